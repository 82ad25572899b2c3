// Package alert stores Alerts: their strategies, REST storage and
// table output.
package alert

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/validation"
)

// strategy is how Alerts are created, updated and deleted through the
// main resource: the spec is the user's, the status is left untouched.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the strategy of the alerts resource.
func NewStrategy(typer runtime.ObjectTyper) strategy {
	return strategy{typer, names.SimpleNameGenerator}
}

func (strategy) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status is not the main
// resource's to set.
func (strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"notification.toolkit.fluxcd.io/v1beta2": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	a := obj.(*notification.Alert)
	a.Status = notification.AlertStatus{}
	a.Generation = 1
	conditions.MarkReconciling(&a.Status.Conditions, a.Generation)
}

func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	a, oldA := obj.(*notification.Alert), old.(*notification.Alert)
	a.Status = oldA.Status
	if !apiequality.Semantic.DeepEqual(a.Spec, oldA.Spec) {
		a.Generation = oldA.Generation + 1
		// The new generation is unchecked until the reconciler sees it.
		conditions.MarkReconciling(&a.Status.Conditions, a.Generation)
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateAlert(obj.(*notification.Alert))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (strategy) Canonicalize(runtime.Object) {}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateAlertUpdate(obj.(*notification.Alert), old.(*notification.Alert))
}

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// statusStrategy is how the /status subresource updates a Alert: only
// the status changes.
type statusStrategy struct {
	strategy
}

// NewStatusStrategy returns the strategy of the alerts/status subresource.
func NewStatusStrategy(typer runtime.ObjectTyper) statusStrategy {
	return statusStrategy{NewStrategy(typer)}
}

// GetResetFields tells server-side apply that spec is not the status
// subresource's to set.
func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"notification.toolkit.fluxcd.io/v1beta2": fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
}

func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	a, oldA := obj.(*notification.Alert), old.(*notification.Alert)
	a.Spec = oldA.Spec
	metav1.ResetObjectMetaForStatus(&a.ObjectMeta, &oldA.ObjectMeta)
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateAlertStatusUpdate(obj.(*notification.Alert), old.(*notification.Alert))
}

func (statusStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetAttrs returns the labels and fields a Alert can be selected by.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	a, ok := obj.(*notification.Alert)
	if !ok {
		return nil, nil, fmt.Errorf("not a Alert: %T", obj)
	}
	return a.Labels, generic.ObjectMetaFieldsSet(&a.ObjectMeta, true), nil
}

// Match selects Alerts by label and field.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
