package provider

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/table"
)

// REST is the etcd storage of the providers resource.
type REST struct {
	*genericregistry.Store
}

// StatusREST is the storage of the providers/status subresource. It shares
// the main resource's store.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.CategoriesProvider = &REST{}
	_ rest.Patcher            = &StatusREST{}
)

// NewREST returns the storage of providers and providers/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *StatusREST, error) {
	s := NewStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &notification.Provider{} },
		NewListFunc:               func() runtime.Object { return &notification.ProviderList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  notification.Resource("providers"),
		SingularQualifiedResource: notification.Resource("provider"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            table.New(statusConditions),
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("completing provider storage: %w", err)
	}
	statusStore := *store
	ss := NewStatusStrategy(scheme)
	statusStore.CreateStrategy = nil
	statusStore.DeleteStrategy = nil
	statusStore.UpdateStrategy = ss
	statusStore.ResetFieldsStrategy = ss
	return &REST{store}, &StatusREST{store: &statusStore}, nil
}

func statusConditions(obj runtime.Object) ([]metav1.Condition, bool) {
	p, ok := obj.(*notification.Provider)
	if !ok {
		return nil, false
	}
	return p.Status.Conditions, true
}

// Categories puts providers in `kubectl get all` and `kubectl get flux`.
func (*REST) Categories() []string {
	return []string{"all", "flux", "fluxcd", "fluxcd-notifications"}
}

// New returns an empty Provider.
func (r *StatusREST) New() runtime.Object { return &notification.Provider{} }

// Destroy does nothing: the store is the main resource's.
func (r *StatusREST) Destroy() {}

// Get returns a Provider; patching the status needs it.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes a Provider's status. A subresource never creates.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints a Provider read through /status like the main resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, opts)
}
