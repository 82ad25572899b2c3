package event

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// MaxBatchItems bounds the Events of one EventBatch.
const MaxBatchItems = 500

// BatchREST creates the Events of an EventBatch: each as the events
// storage would create it alone (naming, validation, deduplication, the
// pending bound), all in one etcd transaction through the Writer.
type BatchREST struct {
	events     *REST
	writer     *Writer
	authorizer authorizer.Authorizer
	strategy   strategy
	// mutating and validating are the server's admission chain, run on
	// each item as on a create of it alone, audited as the registry's
	// handlers audit it; nil without a chain, or one that has not that
	// side or does not handle creates.
	mutating   admission.MutationInterface
	validating admission.ValidationInterface
	interfaces admission.ObjectInterfaces
}

var (
	_ rest.Creater              = &BatchREST{}
	_ rest.Scoper               = &BatchREST{}
	_ rest.SingularNameProvider = &BatchREST{}
)

// NewBatchREST returns the storage of eventbatches. authz decides whether
// the user may create events, which creating a batch needs too.
func NewBatchREST(events *REST, writer *Writer, authz authorizer.Authorizer) *BatchREST {
	return &BatchREST{events: events, writer: writer, authorizer: authz, strategy: events.CreateStrategy.(strategy)}
}

// UseAdmission runs admit on each item, as it runs on a create of the
// item alone: mutating admission before the item is named, validating
// admission after the strategy, with the attributes of an Event create. A
// refused item gets the refusal as its result; the others are stored.
// Admission of the batch as a whole is the request's, as for any create.
func (r *BatchREST) UseAdmission(admit admission.Interface, interfaces admission.ObjectInterfaces) {
	r.interfaces = interfaces
	r.mutating, r.validating = nil, nil
	if admit == nil {
		return
	}
	audited := admission.WithAudit(admit)
	if m, ok := audited.(admission.MutationInterface); ok && m.Handles(admission.Create) {
		r.mutating = m
	}
	if v, ok := audited.(admission.ValidationInterface); ok && v.Handles(admission.Create) {
		r.validating = v
	}
}

// The kind and resource an item's admission sees: those of a create of
// the Event alone.
var (
	eventKind     = schema.GroupVersionKind{Group: notification.GroupName, Version: "v1beta2", Kind: "Event"}
	eventResource = schema.GroupVersionResource{Group: notification.GroupName, Version: "v1beta2", Resource: "events"}
)

// itemAttributes are the admission attributes of a create of e alone.
func itemAttributes(ctx context.Context, e *notification.Event, dryRun bool) admission.Attributes {
	user, _ := genericapirequest.UserFrom(ctx)
	options := &metav1.CreateOptions{}
	if dryRun {
		options.DryRun = []string{metav1.DryRunAll}
	}
	return admission.NewAttributesRecord(e, nil, eventKind, e.Namespace, e.Name, eventResource, "",
		admission.Create, options, dryRun, user)
}

// mutate runs the mutating admission of a create of e alone.
func (r *BatchREST) mutate(ctx context.Context, e *notification.Event, dryRun bool) error {
	if r.mutating == nil {
		return nil
	}
	return r.mutating.Admit(ctx, itemAttributes(ctx, e, dryRun), r.interfaces)
}

// validate runs the validating admission of a create of e alone, on a
// copy, as the registry does.
func (r *BatchREST) validate(ctx context.Context, e *notification.Event, dryRun bool) error {
	if r.validating == nil {
		return nil
	}
	return r.validating.Validate(ctx, itemAttributes(ctx, e.DeepCopy(), dryRun), r.interfaces)
}

// New returns an empty EventBatch.
func (*BatchREST) New() runtime.Object { return &notification.EventBatch{} }

// Destroy does nothing: the Writer's client is the server's.
func (*BatchREST) Destroy() {}

// NamespaceScoped: a batch holds the Events of one namespace.
func (*BatchREST) NamespaceScoped() bool { return true }

// GetSingularName names one EventBatch.
func (*BatchREST) GetSingularName() string { return "eventbatch" }

// Create stores the items and answers the batch with a result per item. A
// problem with the batch as a whole (permission, size, the pending bound,
// etcd) fails it whole, and then no item was stored.
func (r *BatchREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	batch, ok := obj.(*notification.EventBatch)
	if !ok {
		return nil, fmt.Errorf("not an EventBatch: %T", obj)
	}
	// A dry run goes through everything a batch does (admission told it
	// is one) but the write: each item is answered as its create would
	// be, from what etcd holds now.
	dryRun := options != nil && dryrun.IsDryRun(options.DryRun)
	write := r.writer.Create
	if dryRun {
		write = r.wouldCreate
	}
	namespace, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || namespace == "" {
		return nil, apierrors.NewBadRequest("an EventBatch needs a namespace")
	}
	if err := r.authorize(ctx, namespace); err != nil {
		return nil, err
	}
	if errs := validateBatch(batch, namespace); len(errs) > 0 {
		return nil, apierrors.NewInvalid(notification.Kind("EventBatch"), batch.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj); err != nil {
			return nil, err
		}
	}
	// The items beyond the room left under --max-pending-events are
	// refused as their creates alone would be; those no Alert can take
	// need no room. A batch with no room for any item is refused whole.
	room, err := r.events.room()
	if err != nil && !r.anyTakesNoRoom(batch.Items) {
		return nil, err
	}
	taken := 0
	// etcd calls end before the request does, so that an outage answers
	// 504 rather than a reset stream.
	if deadline, ok := ctx.Deadline(); ok {
		margin := min(max(time.Until(deadline)/10, 100*time.Millisecond), time.Second)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-margin))
		defer cancel()
	}

	results := make([]notification.EventBatchResult, len(batch.Items))
	items := make([]CreateItem, 0, len(batch.Items))
	index := make([]int, 0, len(batch.Items)) // items[j] is batch.Items[index[j]]
	// generate[j]: items[j] is named from its generateName; a copy as it
	// was before, to name again when the name is taken.
	generate := make([]*notification.Event, 0, len(batch.Items))
	for i := range batch.Items {
		e := &batch.Items[i]
		if e.Namespace == "" {
			e.Namespace = namespace
		}
		if room >= 0 && taken >= room && !r.events.takesNoRoom(e) {
			results[i] = failed(e.Name, tooManyPending(r.events.opts.MaxPending))
			continue
		}
		// An item is an internal Event, as a create's decoded object is:
		// the apiVersion and kind written in the batch would make
		// admission take it for a v1beta2 one and skip its conversion.
		e.TypeMeta = metav1.TypeMeta{}
		// As a create alone: mutating admission comes before the
		// name, which depends on the content.
		if err := r.mutate(ctx, e, dryRun); err != nil {
			results[i] = failed(e.Name, err)
			continue
		}
		check, named := r.events.name(e)
		var unnamed *notification.Event
		if e.Name == "" && e.GenerateName != "" {
			unnamed = e.DeepCopy()
		}
		if err := r.prepare(ctx, e, dryRun); err != nil {
			results[i] = failed(e.Name, err)
			continue
		}
		item := CreateItem{Event: e}
		if named {
			item.Previous = check.previous
		}
		items = append(items, item)
		if e.Status.RoutedAt == nil { // not stored routed: it awaits delivery
			taken++
		}
		index = append(index, i)
		generate = append(generate, unnamed)
	}
	for attempt := 1; len(items) > 0; attempt++ {
		// A repeat of an event created within the dedup window before is
		// a duplicate, as for a create alone.
		conflicts, err := write(ctx, namespace, items, int64(r.events.retentionSeconds()), r.events.repeats)
		if err != nil {
			return nil, storageError(err)
		}
		var again []CreateItem
		var againIndex []int
		var againGenerate []*notification.Event
		for j, item := range items {
			e := item.Event
			switch {
			case conflicts[j] != "" && generate[j] != nil && attempt < maxNameGenerationAttempts:
				// The generated name is taken: another, as the registry
				// does, prepared and admitted again under it.
				next := generate[j].DeepCopy()
				if err := r.prepare(ctx, next, dryRun); err != nil {
					results[index[j]] = failed(next.Name, err)
					continue
				}
				again = append(again, CreateItem{Event: next})
				againIndex = append(againIndex, index[j])
				againGenerate = append(againGenerate, generate[j])
			case conflicts[j] != "":
				results[index[j]] = failed(e.Name, apierrors.NewAlreadyExists(notification.Resource("events"), conflicts[j]))
			default:
				result := notification.EventBatchResult{
					Name: e.Name, Code: http.StatusCreated, UID: string(e.UID), ResourceVersion: e.ResourceVersion,
				}
				if dryRun {
					result.ResourceVersion = "" // not stored
				} else {
					r.events.created(e, nil)
				}
				results[index[j]] = result
			}
		}
		items, index, generate = again, againIndex, againGenerate
	}
	out := &notification.EventBatch{ObjectMeta: batch.ObjectMeta, Results: results}
	out.Namespace = namespace
	// The batch is not stored: no fields of it are managed.
	out.ManagedFields = nil
	return out, nil
}

// anyTakesNoRoom tells whether one of items needs no room under
// --max-pending-events (no Alert can take it).
func (r *BatchREST) anyTakesNoRoom(items []notification.Event) bool {
	for i := range items {
		if r.events.takesNoRoom(&items[i]) {
			return true
		}
	}
	return false
}

// wouldCreate answers as the Writer's Create would for items, without
// writing: per item "" when it would be created, else the name of the
// Event it clashes with (one of its name, one of the same event created
// within the dedup window before, or an item before it in the batch).
func (r *BatchREST) wouldCreate(ctx context.Context, namespace string, items []CreateItem, _ int64, repeats func(earlier *notification.Event) bool) ([]string, error) {
	names := make([]string, 0, 2*len(items))
	for _, item := range items {
		names = append(names, item.Event.Name)
		if item.Previous != "" {
			names = append(names, item.Previous)
		}
	}
	found, err := r.writer.Get(ctx, namespace, names)
	if err != nil {
		return nil, err
	}
	conflicts := make([]string, len(items))
	seen := make(map[string]bool, len(items))
	k := 0
	for j, item := range items {
		existing := found[k]
		k++
		var earlier *notification.Event
		if item.Previous != "" {
			earlier = found[k]
			k++
		}
		switch {
		case existing != nil || seen[item.Event.Name]:
			conflicts[j] = item.Event.Name
		case earlier != nil && repeats(earlier):
			conflicts[j] = item.Previous
		}
		seen[item.Event.Name] = true
	}
	return conflicts, nil
}

// maxNameGenerationAttempts is how many names an item with generateName
// gets before its name clash is its answer, as in the registry.
const maxNameGenerationAttempts = 8

// prepare does for an item what the registry's create does before the
// write: system fields, a name from generateName, the strategy, and
// validating admission.
func (r *BatchREST) prepare(ctx context.Context, e *notification.Event, dryRun bool) error {
	rest.FillObjectMetaSystemFields(e)
	if e.Name == "" && e.GenerateName != "" {
		e.Name = r.strategy.GenerateName(e.GenerateName)
	}
	if err := rest.BeforeCreate(r.strategy, ctx, e); err != nil {
		return err
	}
	return r.validate(ctx, e, dryRun)
}

// authorize: a batch creates events, which the user must be allowed too.
func (r *BatchREST) authorize(ctx context.Context, namespace string) error {
	if r.authorizer == nil {
		return nil
	}
	// As the request's own authorization does: with the user the
	// authentication put in the context, if any.
	user, _ := genericapirequest.UserFrom(ctx)
	decision, reason, err := r.authorizer.Authorize(ctx, authorizer.AttributesRecord{
		User: user, Verb: "create", Namespace: namespace,
		APIGroup: notification.GroupName, APIVersion: "v1beta2", Resource: "events",
		ResourceRequest: true,
	})
	if decision == authorizer.DecisionAllow {
		return nil
	}
	msg := "creating an EventBatch needs permission to create events in the namespace"
	if reason != "" {
		msg += ": " + reason
	}
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("authorizing the creation of events: %w", err))
	}
	return apierrors.NewForbidden(notification.Resource("events"), "", errors.New(msg))
}

func validateBatch(b *notification.EventBatch, namespace string) field.ErrorList {
	var errs field.ErrorList
	items := field.NewPath("items")
	switch {
	case len(b.Items) == 0:
		errs = append(errs, field.Required(items, "a batch needs at least one Event"))
	case len(b.Items) > MaxBatchItems:
		errs = append(errs, field.TooMany(items, len(b.Items), MaxBatchItems))
	}
	if len(b.Results) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("results"), "results are set by the server"))
	}
	for i := range b.Items {
		if ns := b.Items[i].Namespace; ns != "" && ns != namespace {
			errs = append(errs, field.Invalid(items.Index(i).Child("metadata", "namespace"), ns,
				"must be the batch's namespace ("+namespace+")"))
		}
	}
	return errs
}

// failed is the result of an item that a create alone would have refused
// with err.
func failed(name string, err error) notification.EventBatchResult {
	status := apierrors.APIStatus(apierrors.NewInternalError(err))
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		status = s
	}
	st := status.Status()
	return notification.EventBatchResult{Name: name, Code: st.Code, Reason: string(st.Reason), Message: st.Message}
}

// storageError turns an etcd failure into what the registry would answer.
func storageError(err error) error {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewTimeoutError("the storage did not answer before the request's deadline", 0)
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("storing the events failed: %v", err))
}
