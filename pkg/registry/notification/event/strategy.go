// Package event stores Events: Flux events kept for a retention period,
// deduplicated by name, and the record of their deliveries.
package event

import (
	"context"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/utils/clock"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/validation"
)

// strategy creates Events; the body is immutable once stored.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	// unmatched, when set, tells that no Alert can take the events of an
	// object: its Event is stored routed, with nothing to deliver.
	unmatched func(notification.ObjectReference) bool
	clock     clock.PassiveClock
}

// NewStrategy returns the strategy of the events resource.
func NewStrategy(typer runtime.ObjectTyper) strategy {
	return strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, clock: clock.RealClock{}}
}

func (strategy) NamespaceScoped() bool { return true }

// GetResetFields: status is not the main resource's to set.
func (strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"notification.toolkit.fluxcd.io/v1beta2": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (s strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	e := obj.(*notification.Event)
	e.Status = notification.EventStatus{}
	e.Generation = 1
	// An Event keeps no managed fields, however it came (those of batches
	// never had any): its spec is written once, and they would travel with
	// it in every watch of Events.
	e.ManagedFields = nil
	CleanMetadata(e)
	// Routed at once when nothing could route it: the delivery loop would
	// only write that down, in a second write.
	if s.unmatched != nil && s.unmatched(e.InvolvedObject) {
		now := metav1.NewTime(s.clock.Now())
		e.Status.RoutedAt = &now
		e.Status.Message = notification.EventNoAlertMatched
	}
}

// PrepareForUpdate keeps the event as it was: only labels, annotations and
// finalizers of the metadata may change through the main resource.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	e, oldE := obj.(*notification.Event), old.(*notification.Event)
	meta := e.ObjectMeta
	*e = *oldE.DeepCopy()
	e.ObjectMeta = meta
	e.Generation = oldE.Generation
	e.ManagedFields = nil
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateEvent(obj.(*notification.Event))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (strategy) Canonicalize(runtime.Object) {}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateEventUpdate(obj.(*notification.Event), old.(*notification.Event))
}

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// statusStrategy writes the deliveries of an Event, and nothing else.
type statusStrategy struct {
	strategy
}

// NewStatusStrategy returns the strategy of the events/status subresource.
func NewStatusStrategy(typer runtime.ObjectTyper) statusStrategy {
	return statusStrategy{NewStrategy(typer)}
}

// GetResetFields: only status is the subresource's to set.
func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"notification.toolkit.fluxcd.io/v1beta2": fieldpath.NewSet(
			fieldpath.MakePathOrDie("involvedObject"), fieldpath.MakePathOrDie("severity"),
			fieldpath.MakePathOrDie("timestamp"), fieldpath.MakePathOrDie("message"),
			fieldpath.MakePathOrDie("reason"), fieldpath.MakePathOrDie("eventMetadata"),
			fieldpath.MakePathOrDie("reportingController"), fieldpath.MakePathOrDie("reportingInstance"),
		),
	}
}

func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	e, oldE := obj.(*notification.Event), old.(*notification.Event)
	status := e.Status
	meta := e.ObjectMeta
	*e = *oldE.DeepCopy()
	e.Status = status
	e.ObjectMeta = meta
	metav1.ResetObjectMetaForStatus(&e.ObjectMeta, &oldE.ObjectMeta)
	e.ManagedFields = nil
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateEventStatusUpdate(obj.(*notification.Event), old.(*notification.Event))
}

func (statusStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetAttrs returns the labels and fields an Event can be selected by:
// metadata.name, metadata.namespace, involvedObject.kind,
// involvedObject.name, severity and reason.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	e, ok := obj.(*notification.Event)
	if !ok {
		return nil, nil, fmt.Errorf("not an Event: %T", obj)
	}
	fs := generic.AddObjectMetaFieldsSet(fields.Set{
		"involvedObject.kind": e.InvolvedObject.Kind,
		"involvedObject.name": e.InvolvedObject.Name,
		"severity":            e.Severity,
		"reason":              e.Reason,
		PendingField:          strconv.FormatBool(Pending(e)),
	}, &e.ObjectMeta, true)
	return e.Labels, fs, nil
}

// PendingField selects the Events with work left for the delivery loop:
// not routed yet, or a delivery pending. The delivery loop watches only
// those, so an Event leaves its memory once delivered.
const PendingField = "status.pending"

// Pending tells whether an Event has work left for the delivery loop.
func Pending(e *notification.Event) bool {
	if e.Status.RoutedAt == nil {
		return true
	}
	for _, d := range e.Status.Deliveries {
		if d.State == notification.DeliveryPending {
			return true
		}
	}
	return false
}

// Match selects Events by label and field.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
