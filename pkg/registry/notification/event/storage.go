package event

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/util/dryrun"
	"k8s.io/utils/clock"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/groupcommit"
)

// Options are the time settings of Events.
type Options struct {
	// Retention is how long an Event is kept (an etcd lease), long enough
	// for deliveries to be retried through an outage.
	Retention time.Duration
	// DedupWindow is how long the same event is refused as a duplicate
	// (Flux's --rate-limit-interval). It must not exceed Retention.
	DedupWindow time.Duration
	// Clock tells the time; the real clock when nil.
	Clock clock.PassiveClock
	// MaxPending refuses new Events while this many await delivery (0: no
	// limit), so that an outage of receivers fills neither memory nor
	// etcd without bound: senders get 429 and retry.
	MaxPending int
	// Pending counts the Events awaiting delivery (nil: unknown).
	Pending func() int
	// NoAlertCanMatch, when set, tells that no Alert can take the events
	// of an object (none has a source of its namespace and kind): its
	// Event is stored routed, "no Alert matched", rather than routed by
	// the delivery loop in a second write. False while unsure.
	NoAlertCanMatch func(notification.ObjectReference) bool
	// RoutedAtCreate counts the Events stored so.
	RoutedAtCreate func()
}

// REST is the etcd storage of the events resource.
type REST struct {
	*genericregistry.Store
	opts Options
	// creates, once UseWriter gave it a Writer, stores the Events named
	// after their dedup key in transactions with the others of their
	// namespace created meanwhile.
	creates *groupcommit.Group[string, CreateItem, string]
	// decodes is the storage's codec for the watches, which the Writer
	// gives what it writes.
	decodes *watchDecodes
}

// StatusREST is the storage of events/status.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.CategoriesProvider = &REST{}
	_ rest.ShortNamesProvider = &REST{}
	_ rest.Patcher            = &StatusREST{}
)

// NewREST returns the storage of events and events/status.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (*REST, *StatusREST, error) {
	if opts.Retention <= 0 || opts.DedupWindow <= 0 || opts.DedupWindow > opts.Retention {
		return nil, nil, fmt.Errorf("event retention (%s) and dedup window (%s) must be positive, the window no longer than the retention", opts.Retention, opts.DedupWindow)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	s := NewStrategy(scheme)
	s.unmatched, s.clock = opts.NoAlertCanMatch, opts.Clock
	retention := uint64(opts.Retention.Seconds())
	if retention == 0 {
		retention = 1
	}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &notification.Event{} },
		NewListFunc:               func() runtime.Object { return &notification.EventList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  notification.Resource("events"),
		SingularQualifiedResource: notification.Resource("event"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            tableConvertor{},
		// An Event lives for the retention from its creation. etcd drops a
		// key's lease on every write without one, so updates must give the
		// time that is left again.
		TTLFunc: func(obj runtime.Object, _ uint64, update bool) (uint64, error) {
			if !update {
				return retention, nil
			}
			e, ok := obj.(*notification.Event)
			if !ok || e.CreationTimestamp.IsZero() {
				return retention, nil
			}
			left := opts.Retention - opts.Clock.Since(e.CreationTimestamp.Time)
			if left < time.Second {
				left = time.Second
			}
			return uint64(left.Seconds()), nil
		},
	}
	decodes := &watchDecodeOptions{RESTOptionsGetter: optsGetter}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: decodes, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("completing event storage: %w", err)
	}
	statusStore := *store
	ss := NewStatusStrategy(scheme)
	statusStore.CreateStrategy = nil
	statusStore.DeleteStrategy = nil
	statusStore.UpdateStrategy = ss
	statusStore.ResetFieldsStrategy = ss
	return &REST{Store: store, opts: opts, decodes: decodes.made}, &StatusREST{store: &statusStore}, nil
}

// Create stores an Event. One without a name is named after its dedup key
// and the dedup window it falls in, so that the same event again within
// the window is refused as AlreadyExists: by etcd itself within the same
// window, and here when the earlier one is in the window before.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	e, ok := obj.(*notification.Event)
	if !ok {
		return nil, fmt.Errorf("not an Event: %T", obj)
	}
	if err := r.checkPending(e); err != nil {
		return nil, err
	}
	dryRun := options != nil && dryrun.IsDryRun(options.DryRun)
	check, named := r.name(e)
	if named && r.creates != nil && !dryRun {
		out, err := r.createGrouped(ctx, e, check, createValidation)
		r.created(out, err)
		return out, err
	}
	if named {
		if earlier, err := r.Store.Get(ctx, check.previous, &metav1.GetOptions{}); err == nil {
			if check.now.Sub(earlier.(*notification.Event).CreationTimestamp.Time) < r.opts.DedupWindow {
				return nil, apierrors.NewAlreadyExists(notification.Resource("events"), check.previous)
			}
		}
	}
	out, err := r.Store.Create(ctx, obj, createValidation, options)
	if !dryRun {
		r.created(out, err)
	}
	return out, err
}

// created counts an Event stored routed by its create.
func (r *REST) created(obj runtime.Object, err error) {
	if e, ok := obj.(*notification.Event); ok && err == nil && e.Status.RoutedAt != nil && r.opts.RoutedAtCreate != nil {
		r.opts.RoutedAtCreate()
	}
}

// UseWriter stores the Events named after their dedup key (those created
// without a name) through w: the creates of a namespace that arrive while
// one is being written go together in the next transaction, one raft
// entry and one fsync for all, the check of the window before inside it,
// where the registry takes a read and a transaction for each. Named
// Events and dry runs still go through the registry.
func (r *REST) UseWriter(w *Writer) {
	if r.decodes != nil {
		w.wrote = r.decodes.wrote
	}
	ttl := int64(r.retentionSeconds())
	r.creates = groupcommit.NewGroup(func(ctx context.Context, namespace string, items []CreateItem) ([]string, error) {
		return w.Create(ctx, namespace, items, ttl, r.repeats)
	}, groupcommit.Options{MaxItems: MaxTxnItems, MaxInFlight: 1})
}

// repeats tells whether an Event of the window before, of the same dedup
// key, was created within the dedup window.
func (r *REST) repeats(earlier *notification.Event) bool {
	return r.opts.Clock.Since(earlier.CreationTimestamp.Time) < r.opts.DedupWindow
}

// createGrouped does what the registry's Create does (metadata, the
// strategy, admission, the lease of the retention) and stores e through
// the Writer, with the other creates of its namespace.
func (r *REST) createGrouped(ctx context.Context, e *notification.Event, check dedupCheck, createValidation rest.ValidateObjectFunc) (runtime.Object, error) {
	rest.FillObjectMetaSystemFields(e)
	if err := rest.BeforeCreate(r.Store.CreateStrategy, ctx, e); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, e.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	conflict, err := r.creates.Do(ctx, e.Namespace, CreateItem{Event: e, Previous: check.previous})
	if err != nil {
		return nil, storageError(err)
	}
	if conflict != "" {
		return nil, apierrors.NewAlreadyExists(notification.Resource("events"), conflict)
	}
	return e, nil
}

// checkPending refuses new Events while --max-pending-events await
// delivery, but for one that no Alert can take: stored routed, it adds
// nothing to await.
func (r *REST) checkPending(e *notification.Event) error {
	if _, err := r.room(); err != nil && !r.takesNoRoom(e) {
		return err
	}
	return nil
}

// takesNoRoom tells that e will be stored routed to no Alert (see
// Options.NoAlertCanMatch): it does not count under --max-pending-events.
func (r *REST) takesNoRoom(e *notification.Event) bool {
	return r.opts.NoAlertCanMatch != nil && r.opts.NoAlertCanMatch(e.InvolvedObject)
}

// room is how many more Events may be taken now (-1: no limit), or the
// 429 that refuses any.
func (r *REST) room() (int, error) {
	if r.opts.MaxPending <= 0 || r.opts.Pending == nil {
		return -1, nil
	}
	n := r.opts.Pending()
	if n >= r.opts.MaxPending {
		return 0, tooManyPending(n)
	}
	return r.opts.MaxPending - n, nil
}

func tooManyPending(n int) error {
	return apierrors.NewTooManyRequests(
		fmt.Sprintf("%d events await delivery, the most this server holds (--max-pending-events): retry later", n), 10)
}

// dedupCheck is what tells whether an Event named after its dedup key
// repeats one created in the window before.
type dedupCheck struct {
	previous string    // the name the same event had in the window before
	now      time.Time // when it was named
}

// name names an Event without a name (nor generateName) after its dedup
// key and the dedup window it falls in, so that the same event again
// within the window is refused as AlreadyExists by etcd itself; the check
// returned catches a repeat of the window before.
func (r *REST) name(e *notification.Event) (dedupCheck, bool) {
	if e.Name != "" || e.GenerateName != "" {
		return dedupCheck{}, false
	}
	CleanMetadata(e)
	key := DedupKey(e)
	now := r.opts.Clock.Now()
	window := now.UnixNano() / int64(r.opts.DedupWindow)
	e.Name = dedupName(key, window)
	return dedupCheck{previous: dedupName(key, window-1), now: now}, true
}

// retentionSeconds is the TTL of an Event's etcd lease.
func (r *REST) retentionSeconds() uint64 {
	return max(uint64(r.opts.Retention.Seconds()), 1)
}

// Categories puts events in `kubectl get flux`, not in `all`.
func (*REST) Categories() []string {
	return []string{"flux", "fluxcd", "fluxcd-notifications"}
}

// ShortNames tells kubectl that `fev` means these events, not core ones.
func (*REST) ShortNames() []string { return []string{"fev"} }

// New returns an empty Event.
func (r *StatusREST) New() runtime.Object { return &notification.Event{} }

// Destroy does nothing: the store is the main resource's.
func (r *StatusREST) Destroy() {}

// Get returns an Event; patching the status needs it.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes an Event's deliveries. A subresource never creates.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints an Event read through /status like the main resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, opts)
}
