// Package reconciled stores the kinds whose status the server reconciles
// (Provider, Alert): the user writes the spec through the resource, the
// server writes conditions through /status, a spec change bumps the
// generation and marks it Reconciling (or, when the kind can tell at once,
// records the reconciler's verdict with it). Each kind describes itself
// with a Kind; this package gives it strategies and REST storage.
package reconciled

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
)

// Object is a stored object of a reconciled kind.
type Object interface {
	runtime.Object
	metav1.Object
}

// Kind describes one reconciled kind to this package.
type Kind[T Object] struct {
	// Resource and Singular name the resource, e.g. providers and provider.
	Resource, Singular string
	// NewList returns an empty list of the kind.
	NewList func() runtime.Object
	// New returns an empty object of the kind.
	New func() T
	// Spec returns the spec, for comparisons.
	Spec func(T) any
	// Conditions points at the status conditions.
	Conditions func(T) *[]metav1.Condition
	// ResetStatus empties the status; CopyStatus and CopySpec copy them
	// from another object.
	ResetStatus          func(T)
	CopyStatus, CopySpec func(to, from T)
	// Validate, ValidateUpdate and ValidateStatusUpdate are the kind's rules.
	Validate             func(T) field.ErrorList
	ValidateUpdate       func(obj, old T) field.ErrorList
	ValidateStatusUpdate func(obj, old T) field.ErrorList
}

// Options add to the storage of a kind.
type Options[T Object] struct {
	// Check sets the status of a new generation of an object (created, or
	// its spec changed) to what the kind's reconciler would write and
	// returns true, when it can tell at once; otherwise the generation is
	// marked Reconciling until the reconciler checks it. A status known
	// at the write spares a second write per change, and its watch events.
	Check func(T) bool
	// Await, when set, is called after a create or update has stored o
	// (not on a dry run), before it is answered: it waits for the server's
	// own caches to hold o where a status from Check says they do.
	Await func(ctx context.Context, o T)
}

// Strategy is how objects of a kind are created, updated and deleted
// through the main resource: the spec is the user's, the status is kept.
type Strategy[T Object] struct {
	runtime.ObjectTyper
	names.NameGenerator
	kind  *Kind[T]
	check func(T) bool
}

// NewStrategy returns the strategy of the kind's resource.
func NewStrategy[T Object](typer runtime.ObjectTyper, k *Kind[T], opts Options[T]) Strategy[T] {
	return Strategy[T]{typer, names.SimpleNameGenerator, k, opts.Check}
}

// newGeneration records the state of o's new generation: checked, or
// Reconciling until the reconciler sees it.
func (s Strategy[T]) newGeneration(o T) {
	if s.check != nil && s.check(o) {
		return
	}
	conditions.MarkReconciling(s.kind.Conditions(o), o.GetGeneration())
}

func (Strategy[T]) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status is not the main
// resource's to set.
func (Strategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"notification.toolkit.fluxcd.io/v1beta2": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (s Strategy[T]) PrepareForCreate(_ context.Context, obj runtime.Object) {
	o := obj.(T)
	s.kind.ResetStatus(o)
	o.SetGeneration(1)
	s.newGeneration(o)
}

func (s Strategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	o, oldO := obj.(T), old.(T)
	s.kind.CopyStatus(o, oldO)
	if !apiequality.Semantic.DeepEqual(s.kind.Spec(o), s.kind.Spec(oldO)) {
		o.SetGeneration(oldO.GetGeneration() + 1)
		s.newGeneration(o)
	}
}

func (s Strategy[T]) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.kind.Validate(obj.(T))
}

func (Strategy[T]) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (Strategy[T]) AllowCreateOnUpdate(context.Context) bool { return false }

func (Strategy[T]) AllowUnconditionalUpdate(context.Context) bool { return true }

func (Strategy[T]) Canonicalize(runtime.Object) {}

func (s Strategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return s.kind.ValidateUpdate(obj.(T), old.(T))
}

func (Strategy[T]) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// StatusStrategy is how the /status subresource updates an object: only
// the status changes.
type StatusStrategy[T Object] struct {
	Strategy[T]
}

// NewStatusStrategy returns the strategy of the kind's status subresource.
func NewStatusStrategy[T Object](typer runtime.ObjectTyper, k *Kind[T]) StatusStrategy[T] {
	return StatusStrategy[T]{NewStrategy(typer, k, Options[T]{})}
}

// GetResetFields tells server-side apply that spec is not the status
// subresource's to set.
func (StatusStrategy[T]) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"notification.toolkit.fluxcd.io/v1beta2": fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
}

func (s StatusStrategy[T]) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	o, oldO := obj.(T), old.(T)
	s.kind.CopySpec(o, oldO)
	resetObjectMetaForStatus(o, oldO)
}

// resetObjectMetaForStatus keeps the metadata a status write may not change.
func resetObjectMetaForStatus(o, old metav1.Object) {
	o.SetDeletionTimestamp(old.GetDeletionTimestamp())
	o.SetGeneration(old.GetGeneration())
	o.SetSelfLink(old.GetSelfLink())
	o.SetLabels(old.GetLabels())
	o.SetAnnotations(old.GetAnnotations())
	o.SetFinalizers(old.GetFinalizers())
	o.SetOwnerReferences(old.GetOwnerReferences())
}

func (s StatusStrategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return s.kind.ValidateStatusUpdate(obj.(T), old.(T))
}

func (StatusStrategy[T]) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetAttrs returns the labels and fields an object of the kind can be
// selected by: metadata.name and metadata.namespace.
func (k *Kind[T]) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	o, ok := obj.(T)
	if !ok {
		return nil, nil, fmt.Errorf("not a %s: %T", k.Singular, obj)
	}
	return o.GetLabels(), fields.Set{"metadata.name": o.GetName(), "metadata.namespace": o.GetNamespace()}, nil
}

// Match selects objects of the kind by label and field.
func (k *Kind[T]) Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: k.GetAttrs}
}
