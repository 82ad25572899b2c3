// Package provider stores Providers: the reconciled kind's description
// of them, from which package reconciled makes strategies and storage.
package provider

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/validation"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/reconciled"
)

// Kind describes Providers.
var Kind = &reconciled.Kind[*notification.Provider]{
	Resource:             "providers",
	Singular:             "provider",
	New:                  func() *notification.Provider { return &notification.Provider{} },
	NewList:              func() runtime.Object { return &notification.ProviderList{} },
	Spec:                 func(p *notification.Provider) any { return p.Spec },
	Conditions:           func(p *notification.Provider) *[]metav1.Condition { return &p.Status.Conditions },
	ResetStatus:          func(p *notification.Provider) { p.Status = notification.ProviderStatus{} },
	CopyStatus:           func(to, from *notification.Provider) { to.Status = from.Status },
	CopySpec:             func(to, from *notification.Provider) { to.Spec = from.Spec },
	Validate:             validation.ValidateProvider,
	ValidateUpdate:       validation.ValidateProviderUpdate,
	ValidateStatusUpdate: validation.ValidateProviderStatusUpdate,
}

// NewREST returns the storage of providers and providers/status; opts.Check,
// when set, records a new generation's status at the write.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts reconciled.Options[*notification.Provider]) (*reconciled.REST, *reconciled.StatusREST, error) {
	return reconciled.NewREST(scheme, optsGetter, Kind, opts)
}

// NewStrategy returns the strategy of the providers resource.
func NewStrategy(typer runtime.ObjectTyper) reconciled.Strategy[*notification.Provider] {
	return reconciled.NewStrategy(typer, Kind, reconciled.Options[*notification.Provider]{})
}

// NewStatusStrategy returns the strategy of the providers/status subresource.
func NewStatusStrategy(typer runtime.ObjectTyper) reconciled.StatusStrategy[*notification.Provider] {
	return reconciled.NewStatusStrategy(typer, Kind)
}

// GetAttrs returns the labels and fields a Provider can be selected by.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) { return Kind.GetAttrs(obj) }
