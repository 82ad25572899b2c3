package reconciled

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

// REST is the etcd storage of a reconciled kind's resource.
type REST struct {
	*genericregistry.Store
	// await is Options.Await, for any object of the kind.
	await func(context.Context, runtime.Object)
}

// Create stores obj; then, but for a dry run, it waits as Options.Await
// does before answering.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	out, err := r.Store.Create(ctx, obj, createValidation, options)
	if err == nil && r.await != nil && (options == nil || len(options.DryRun) == 0) {
		r.await(ctx, out)
	}
	return out, err
}

// Update stores an update (or a create, for an apply); then, but for a
// dry run, it waits as Options.Await does before answering.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	out, created, err := r.Store.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
	if err == nil && r.await != nil && (options == nil || len(options.DryRun) == 0) {
		r.await(ctx, out)
	}
	return out, created, err
}

// StatusREST is the storage of the kind's status subresource. It shares
// the main resource's store.
type StatusREST struct {
	store *genericregistry.Store
	new   func() runtime.Object
}

var (
	_ rest.CategoriesProvider = &REST{}
	_ rest.Patcher            = &StatusREST{}
)

// NewREST returns the storage of a kind and of its status.
func NewREST[T Object](scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, k *Kind[T], opts Options[T]) (*REST, *StatusREST, error) {
	s := NewStrategy(scheme, k, opts)
	newObj := func() runtime.Object { return k.New() }
	store := &genericregistry.Store{
		NewFunc:                   newObj,
		NewListFunc:               k.NewList,
		PredicateFunc:             k.Match,
		DefaultQualifiedResource:  notification.Resource(k.Resource),
		SingularQualifiedResource: notification.Resource(k.Singular),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor: table.New(func(obj runtime.Object) ([]metav1.Condition, bool) {
			o, ok := obj.(T)
			if !ok {
				return nil, false
			}
			return *k.Conditions(o), true
		}),
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: k.GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("completing %s storage: %w", k.Singular, err)
	}
	statusStore := *store
	ss := NewStatusStrategy(scheme, k)
	statusStore.CreateStrategy = nil
	statusStore.DeleteStrategy = nil
	statusStore.UpdateStrategy = ss
	statusStore.ResetFieldsStrategy = ss
	r := &REST{Store: store}
	if opts.Await != nil {
		r.await = func(ctx context.Context, obj runtime.Object) {
			if o, ok := obj.(T); ok {
				opts.Await(ctx, o)
			}
		}
	}
	return r, &StatusREST{store: &statusStore, new: newObj}, nil
}

// Categories puts the kind in `kubectl get all` and `kubectl get flux`.
func (*REST) Categories() []string {
	return []string{"all", "flux", "fluxcd", "fluxcd-notifications"}
}

// New returns an empty object.
func (r *StatusREST) New() runtime.Object { return r.new() }

// Destroy does nothing: the store is the main resource's.
func (r *StatusREST) Destroy() {}

// Get returns an object; patching the status needs it.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes an object's status. A subresource never creates.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints an object read through /status like the main resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, opts)
}
