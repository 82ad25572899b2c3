// Package alert stores Alerts: the reconciled kind's description
// of them, from which package reconciled makes strategies and storage.
package alert

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

// Kind describes Alerts.
var Kind = &reconciled.Kind[*notification.Alert]{
	Resource:             "alerts",
	Singular:             "alert",
	New:                  func() *notification.Alert { return &notification.Alert{} },
	NewList:              func() runtime.Object { return &notification.AlertList{} },
	Spec:                 func(a *notification.Alert) any { return a.Spec },
	Conditions:           func(a *notification.Alert) *[]metav1.Condition { return &a.Status.Conditions },
	ResetStatus:          func(a *notification.Alert) { a.Status = notification.AlertStatus{} },
	CopyStatus:           func(to, from *notification.Alert) { to.Status = from.Status },
	CopySpec:             func(to, from *notification.Alert) { to.Spec = from.Spec },
	Validate:             validation.ValidateAlert,
	ValidateUpdate:       validation.ValidateAlertUpdate,
	ValidateStatusUpdate: validation.ValidateAlertStatusUpdate,
}

// NewREST returns the storage of alerts and alerts/status; opts.Check,
// when set, records a new generation's status at the write.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts reconciled.Options[*notification.Alert]) (*reconciled.REST, *reconciled.StatusREST, error) {
	return reconciled.NewREST(scheme, optsGetter, Kind, opts)
}

// NewStrategy returns the strategy of the alerts resource.
func NewStrategy(typer runtime.ObjectTyper) reconciled.Strategy[*notification.Alert] {
	return reconciled.NewStrategy(typer, Kind, reconciled.Options[*notification.Alert]{})
}

// NewStatusStrategy returns the strategy of the alerts/status subresource.
func NewStatusStrategy(typer runtime.ObjectTyper) reconciled.StatusStrategy[*notification.Alert] {
	return reconciled.NewStatusStrategy(typer, Kind)
}

// GetAttrs returns the labels and fields an Alert can be selected by.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) { return Kind.GetAttrs(obj) }
