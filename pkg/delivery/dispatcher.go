package delivery

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	kubeinformers "k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/notifier"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
	listers "github.com/notification-apiserver/notification-apiserver/pkg/generated/listers/notification/v1beta2"
)

// Delivery states.
const (
	Pending   = "Pending"
	Delivered = "Delivered"
	Failed    = "Failed"
	Skipped   = "Skipped"
)

// DefaultWorkers is Options.Workers when unset.
const DefaultWorkers = 4

// Options tune the dispatcher.
type Options struct {
	Matcher Matcher
	// AddressPolicy is checked again before each attempt: the names of the
	// address and proxy may resolve elsewhere than at admission.
	AddressPolicy address.Policy
	// Workers deliver in parallel.
	Workers int
	// MinBackoff and MaxBackoff bound the exponential wait between two
	// attempts of an Event with pending deliveries.
	MinBackoff, MaxBackoff time.Duration
	Clock                  clock.WithTicker
	// WriteStatus stores an Event's status and returns what was stored
	// (NotFound when the Event is gone). Workers do not wait for it: it is
	// called concurrently for up to Workers Events, and may group their
	// writes; it should not wait for more than Workers of them.
	// The server passes one that writes into its storage in-process; by
	// default it goes through the client's events/status.
	WriteStatus func(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error)
	// Events lists and watches Events (v1beta2). The server passes one
	// that reads its storage in-process; by default the client's.
	Events cache.ListerWatcher
}

// Dispatcher delivers Events: an informer on Events feeds a rate-limited
// work queue; a worker routes a new Event through the Alerts it matches,
// sends it to each Provider, and records the outcomes in the Event's
// status, from which a restart resumes.
type Dispatcher struct {
	client   versioned.Interface
	events   listers.EventLister
	alerts   listers.AlertLister
	alertIdx cache.Indexer
	// alertsSynced tells when the Alerts are all known.
	alertsSynced cache.InformerSynced
	providers    listers.ProviderLister
	secrets      corelisters.SecretLister
	synced       []cache.InformerSynced
	opts         Options
	queue        workqueue.TypedRateLimitingInterface[string]

	// resolver keeps the parsed certificates of certSecretRef Secrets and
	// transports the connections to receivers, across deliveries.
	resolver   *settings.Resolver
	transports *notifier.Transports

	// written holds the last status this dispatcher wrote for Events with
	// deliveries pending: the informer's copy may not have caught up yet
	// when the retry comes.
	mu      sync.Mutex
	written map[string]*v1beta2.Event

	// recording holds a slot per Event delivered and not yet recorded:
	// Workers of them.
	recording chan struct{}

	// pending counts the Events of the pending watch.
	pending atomic.Int64
	// eventsSynced tells when the pending watch has listed (set by Start).
	eventsSynced cache.InformerSynced
	// leading: Run is delivering; new pending Events go to the queue.
	leading atomic.Bool
}

// maxTransports bounds the HTTP transports, each with its pool of idle
// connections, kept for Providers that connect differently.
const maxTransports = 64

// New returns a Dispatcher reading from the informer factories.
func New(client versioned.Interface, nf informers.SharedInformerFactory, kf kubeinformers.SharedInformerFactory, opts Options) (*Dispatcher, error) {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Matcher.regexps == nil {
		opts.Matcher.regexps = newRegexps()
	}
	al := nf.Notification().V1beta2().Alerts()
	pr := nf.Notification().V1beta2().Providers()
	se := kf.Core().V1().Secrets()
	if err := addAlertIndex(al.Informer()); err != nil {
		return nil, fmt.Errorf("indexing Alerts by event source: %w", err)
	}
	d := &Dispatcher{
		client:       client,
		alerts:       al.Lister(),
		alertIdx:     al.Informer().GetIndexer(),
		alertsSynced: al.Informer().HasSynced,
		providers:    pr.Lister(),
		secrets:      se.Lister(),
		synced:       []cache.InformerSynced{al.Informer().HasSynced, pr.Informer().HasSynced, se.Informer().HasSynced},
		opts:         opts,
		written:      map[string]*v1beta2.Event{},
		recording:    make(chan struct{}, opts.Workers),
		resolver:     settings.NewResolver(),
		transports:   notifier.NewTransports(maxTransports, opts.Workers),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.MinBackoff, opts.MaxBackoff),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "events", Clock: opts.Clock}),
	}
	return d, nil
}

// watchPending starts an informer on the Events with work left (see
// event.PendingField): the only ones the loop needs, so that a delivered
// Event leaves its memory. It lives as long as ctx, one leadership.
//
// A plain informer, not a shared one: its handlers run on the goroutine
// that takes the watch's changes off its queue, where a shared informer
// passes each notification through two more goroutines (buffer, then
// handler). The handlers only count and enqueue, and never block.
func (d *Dispatcher) watchPending(ctx context.Context) (cache.InformerSynced, error) {
	indexers := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	events := d.opts.Events
	if events == nil {
		client := d.client.NotificationV1beta2().Events(metav1.NamespaceAll)
		events = cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return client.List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				return client.Watch(ctx, o)
			},
		}, d.client)
	}
	lw := pendingOnly{events}
	d.setPending(0)
	store, controller := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &v1beta2.Event{},
		Indexers:      indexers,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				d.setPending(d.pending.Add(1))
				if e, ok := obj.(*v1beta2.Event); ok && needsWork(e) && d.leading.Load() {
					d.enqueue(obj)
				}
			},
			// Delivered, expired or deleted: no more retries.
			DeleteFunc: func(obj any) {
				d.setPending(d.pending.Add(-1))
				if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
					d.queue.Forget(key)
					d.remember(key, nil)
				}
			},
		},
	})
	indexer, ok := store.(cache.Indexer)
	if !ok {
		return nil, fmt.Errorf("the informer's store is a %T, not an indexer", store)
	}
	d.events = listers.NewEventLister(indexer)
	go controller.RunWithContext(ctx)
	return controller.HasSynced, nil
}

// Start watches the pending Events for as long as ctx lives (the server's
// life), in every replica, leader or not: their count is what
// --max-pending-events bounds, whichever replica takes an Event. Run
// delivers them while leading. Without Start, Run watches for itself.
func (d *Dispatcher) Start(ctx context.Context) error {
	synced, err := d.watchPending(ctx)
	if err != nil {
		return fmt.Errorf("dispatcher: watching Events: %w", err)
	}
	d.eventsSynced = synced
	return nil
}

// Pending is how many Events await delivery, as this replica sees them.
func (d *Dispatcher) Pending() int { return int(d.pending.Load()) }

func (d *Dispatcher) setPending(n int64) {
	if n == 0 {
		d.pending.Store(0)
	}
	pendingEvents.Set(float64(n))
}

// pendingSelector selects the Events with work left.
const pendingSelector = "status.pending=true"

// pendingOnly lists and watches the Events with work left.
type pendingOnly struct {
	lw cache.ListerWatcher
}

func (p pendingOnly) List(o metav1.ListOptions) (runtime.Object, error) {
	o.FieldSelector = pendingSelector
	return p.lw.List(o)
}

func (p pendingOnly) Watch(o metav1.ListOptions) (watch.Interface, error) {
	o.FieldSelector = pendingSelector
	return p.lw.Watch(o)
}

func (p pendingOnly) ListWithContext(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
	o.FieldSelector = pendingSelector
	return cache.ToListerWatcherWithContext(p.lw).ListWithContext(ctx, o)
}

func (p pendingOnly) WatchWithContext(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	o.FieldSelector = pendingSelector
	return cache.ToListerWatcherWithContext(p.lw).WatchWithContext(ctx, o)
}

// IsWatchListSemanticsUnSupported passes on what the wrapped one says.
func (p pendingOnly) IsWatchListSemanticsUnSupported() bool {
	u, ok := p.lw.(interface{ IsWatchListSemanticsUnSupported() bool })
	return ok && u.IsWatchListSemanticsUnSupported()
}

func (d *Dispatcher) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		d.queue.Add(key)
	}
}

// needsWork: not routed yet, or a delivery still pending.
func needsWork(e *v1beta2.Event) bool {
	if e.Status.RoutedAt == nil {
		return true
	}
	for _, d := range e.Status.Deliveries {
		if d.State == Pending {
			return true
		}
	}
	return false
}

// Run delivers until ctx ends; it can run again later (a new leadership).
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.eventsSynced == nil {
		if err := d.Start(ctx); err != nil {
			return err
		}
		defer func() { d.eventsSynced = nil }()
	}
	if !cache.WaitForCacheSync(ctx.Done(), append(d.synced, d.eventsSynced)...) {
		return fmt.Errorf("dispatcher: caches did not sync")
	}
	d.leading.Store(true)
	defer d.leading.Store(false)
	// Resume what a previous run or another replica left undone.
	if events, err := d.events.List(labels.Everything()); err == nil {
		for _, e := range events {
			if needsWork(e) {
				d.enqueue(e)
			}
		}
	}
	klog.FromContext(ctx).Info("Delivering events", "workers", d.opts.Workers)
	var wg, recording sync.WaitGroup
	for range d.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.work(ctx, &recording)
		}()
	}
	<-ctx.Done()
	// The queue holds one copy of a key: each worker needs its own
	// wake-up key, or only one would wake and Run would never return.
	for i := range d.opts.Workers {
		d.queue.Add(wakeUp + strconv.Itoa(i))
	}
	wg.Wait()
	recording.Wait()
	d.transports.CloseIdleConnections()
	return nil
}

// wakeUp begins the keys that unblock a worker so that it sees its
// context is done; no Event's key begins with it. Keys left over wake
// workers of the next Run, which go on.
const wakeUp = "/"

func isWakeUp(key string) bool { return strings.HasPrefix(key, wakeUp) }

func (d *Dispatcher) work(ctx context.Context, recording *sync.WaitGroup) {
	for {
		key, quit := d.queue.Get()
		if quit {
			return
		}
		if isWakeUp(key) || ctx.Err() != nil {
			d.queue.Done(key)
			if !isWakeUp(key) {
				d.queue.Add(key)
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		// A delivery takes a slot, given back once its outcome is stored:
		// at most Workers Events are delivered and not yet recorded, as
		// when each worker waited for its status write. Those are what may
		// be delivered again after a crash, and while etcd does not answer
		// the workers deliver nothing more.
		d.recording <- struct{}{}
		e, retry, err := d.attempt(ctx, key)
		if e == nil {
			<-d.recording
			d.done(ctx, key, retry, err)
			continue
		}
		// The worker goes on to the next Event while the status is
		// written: the writes of many Events share a transaction (see
		// Options.WriteStatus). The key stays in the queue's processing
		// set until then, so the Event is not taken up again meanwhile.
		recording.Add(1)
		go func() {
			defer recording.Done()
			defer func() { <-d.recording }()
			written, err := d.writeStatus(ctx, e)
			retry, err := d.recorded(key, e, written, err)
			d.done(ctx, key, retry, err)
		}()
	}
}

// done ends the processing of key: again later when deliveries are left.
func (d *Dispatcher) done(ctx context.Context, key string, retry bool, err error) {
	if err != nil {
		klog.FromContext(ctx).Error(err, "Delivering an event", "event", key)
	}
	if retry {
		d.queue.AddRateLimited(key)
	} else {
		d.queue.Forget(key)
	}
	d.queue.Done(key)
}

// Process routes and delivers one Event and records the outcome. It tells
// whether deliveries remain pending.
func (d *Dispatcher) Process(ctx context.Context, key string) (bool, error) {
	e, retry, err := d.attempt(ctx, key)
	if e == nil {
		return retry, err
	}
	written, err := d.writeStatus(ctx, e)
	return d.recorded(key, e, written, err)
}

// attempt routes the Event of key when new and makes an attempt of each
// pending delivery. It returns the Event with the outcomes to record, or
// nil with whether to try again.
func (d *Dispatcher) attempt(ctx context.Context, key string) (*v1beta2.Event, bool, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, false, nil
	}
	if d.events == nil {
		return nil, true, fmt.Errorf("the dispatcher does not watch Events yet")
	}
	cached, err := d.events.Events(namespace).Get(name)
	if notFound(err) {
		d.remember(key, nil)
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	e := d.latest(key, cached).DeepCopy()
	if e.Status.RoutedAt == nil {
		d.route(ctx, e)
	}
	d.deliverPending(ctx, e)
	return e, false, nil
}

// MaxParallelDeliveries bounds the deliveries of one Event made at once.
const MaxParallelDeliveries = 8

// deliverPending makes an attempt of each pending delivery of e, up to
// MaxParallelDeliveries at once: a receiver slow to answer (up to its
// Provider's timeout) holds back no other Provider's delivery of the same
// Event, as Flux sends each Alert's notification on its own. Each
// delivery writes only its own entry of e.Status.Deliveries.
func (d *Dispatcher) deliverPending(ctx context.Context, e *v1beta2.Event) {
	pending, last := 0, 0
	for i := range e.Status.Deliveries {
		if e.Status.Deliveries[i].State == Pending {
			pending, last = pending+1, i
		}
	}
	switch pending {
	case 0:
		return
	case 1:
		d.deliver(ctx, e, &e.Status.Deliveries[last])
		return
	}
	slots := make(chan struct{}, MaxParallelDeliveries)
	var wg sync.WaitGroup
	for i := range e.Status.Deliveries {
		if e.Status.Deliveries[i].State != Pending {
			continue
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			d.deliver(ctx, e, &e.Status.Deliveries[i])
		}()
	}
	wg.Wait()
}

// recorded takes in the outcome of writing e's status; it tells whether
// deliveries remain pending.
func (d *Dispatcher) recorded(key string, e, written *v1beta2.Event, err error) (bool, error) {
	if err != nil {
		// Keep the outcomes: the retry writes them again rather than
		// delivering again (etcd may be down for longer than a write
		// waits).
		d.remember(key, e)
		return true, err
	}
	pending := needsWork(e)
	if pending && written != nil {
		d.remember(key, written)
	} else {
		d.remember(key, nil)
	}
	return pending, nil
}

// latest is the newer of the informer's copy and the one last written, or
// whose write failed (then of the informer's version, with the outcomes
// to store).
func (d *Dispatcher) latest(key string, cached *v1beta2.Event) *v1beta2.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.written[key]
	if !ok || w.UID != cached.UID {
		return cached
	}
	cachedRV, err1 := strconv.ParseUint(cached.ResourceVersion, 10, 64)
	writtenRV, err2 := strconv.ParseUint(w.ResourceVersion, 10, 64)
	if err1 == nil && err2 == nil && writtenRV >= cachedRV {
		return w
	}
	return cached
}

func (d *Dispatcher) remember(key string, e *v1beta2.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e == nil {
		delete(d.written, key)
		return
	}
	d.written[key] = e
}

// NoAlertCanMatch tells that no Alert can take the events of objects of
// kind in namespace: none has a source of them (a suspended Alert still
// counts; the Matcher refuses it). False until the Alerts are all known.
// An Event of such an object is stored routed: routing it here would only
// write down "no Alert matched".
func (d *Dispatcher) NoAlertCanMatch(namespace, kind string) bool {
	if !d.alertsSynced() {
		return false
	}
	alerts, err := candidates(d.alertIdx, v1beta2.ObjectReference{Namespace: namespace, Kind: kind})
	return err == nil && len(alerts) == 0
}

// RoutedAtCreate counts an Event stored routed to no Alert by its create
// as the routing here would have.
func RoutedAtCreate() {
	routed.WithLabelValues("false").Inc()
}

// route records the Alerts the event matches, each with its Provider.
func (d *Dispatcher) route(ctx context.Context, e *v1beta2.Event) {
	now := metav1.NewTime(d.opts.Clock.Now())
	e.Status.RoutedAt = &now
	e.Status.Deliveries = nil
	alerts, err := candidates(d.alertIdx, e.InvolvedObject)
	if err != nil {
		e.Status.Message = "listing Alerts failed"
		return
	}
	var problems []string
	for _, a := range alerts {
		ok, err := d.opts.Matcher.Match(ctx, e, a)
		if err != nil {
			problems = append(problems, fmt.Sprintf("Alert %s/%s: %v", a.Namespace, a.Name, err))
		}
		if !ok {
			continue
		}
		alert := a.Name
		if a.Namespace != e.Namespace {
			alert = a.Namespace + "/" + a.Name
		}
		e.Status.Deliveries = append(e.Status.Deliveries, v1beta2.Delivery{Alert: alert, Provider: a.Spec.ProviderRef.Name, State: Pending})
	}
	routed.WithLabelValues(fmt.Sprint(len(e.Status.Deliveries) > 0)).Inc()
	if len(e.Status.Deliveries) == 0 {
		e.Status.Message = notification.EventNoAlertMatched
		if len(problems) > 0 {
			e.Status.Message += "; " + strings.Join(problems, "; ")
		}
		if len(e.Status.Message) > 1000 {
			e.Status.Message = e.Status.Message[:1000]
		}
	}
}

// deliver makes one attempt of a pending delivery and records it.
func (d *Dispatcher) deliver(ctx context.Context, e *v1beta2.Event, delivery *v1beta2.Delivery) {
	alertNamespace, alertName := e.Namespace, delivery.Alert
	if ns, n, ok := strings.Cut(delivery.Alert, "/"); ok {
		alertNamespace, alertName = ns, n
	}
	alert, err := d.alerts.Alerts(alertNamespace).Get(alertName)
	if notFound(err) {
		delivery.State, delivery.Message = Skipped, "the Alert was deleted"
		return
	}
	provider, err := d.providers.Providers(alertNamespace).Get(delivery.Provider)
	if notFound(err) {
		delivery.Message = fmt.Sprintf("Provider %s/%s not found", alertNamespace, delivery.Provider)
		return // it may come: retry
	}
	if err != nil {
		delivery.Message = "reading the Provider failed"
		return
	}
	if provider.Spec.Suspend {
		delivery.State, delivery.Message = Skipped, "the Provider is suspended"
		deliveries.WithLabelValues(provider.Spec.Type, "skipped").Inc()
		return
	}
	s, err := d.resolver.Resolve(provider, func(ns, name string) (*corev1.Secret, error) {
		return d.secrets.Secrets(ns).Get(name)
	})
	if err != nil {
		delivery.Message = err.Error() // names Secrets and keys, never values
		if settings.IsInvalidURL(err) {
			delivery.State = Failed
		}
		return
	}
	if err := d.checkPolicy(ctx, s); err != nil {
		delivery.State, delivery.Message = Failed, err.Error()
		deliveries.WithLabelValues(s.Type, "failed").Inc()
		return
	}
	timeout := v1beta2.DefaultProviderTimeout
	if provider.Spec.Timeout != nil && provider.Spec.Timeout.Duration > 0 {
		timeout = provider.Spec.Timeout.Duration
	}
	client, err := d.transports.NewClient(s, timeout)
	if err != nil {
		delivery.State, delivery.Message = Failed, err.Error()
		return
	}
	n, err := notifier.New(s, client)
	if err != nil {
		delivery.State, delivery.Message = Failed, err.Error()
		return
	}
	now := metav1.NewTime(d.opts.Clock.Now())
	delivery.Attempts++
	delivery.LastAttemptTime = &now
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := d.opts.Clock.Now()
	err = n.Post(ctx, toNotifierEvent(e, alert))
	deliveryDuration.WithLabelValues(s.Type).Observe(d.opts.Clock.Since(start).Seconds())
	switch {
	case err == nil:
		delivery.State, delivery.Message = Delivered, ""
		deliveries.WithLabelValues(s.Type, "delivered").Inc()
	case notifier.IsSkip(err):
		delivery.State, delivery.Message = Skipped, err.Error()
		deliveries.WithLabelValues(s.Type, "skipped").Inc()
	case notifier.Retryable(err):
		delivery.State, delivery.Message = Pending, client.Redact(err.Error())
		deliveries.WithLabelValues(s.Type, "retry").Inc()
	default:
		delivery.State, delivery.Message = Failed, client.Redact(err.Error())
		deliveries.WithLabelValues(s.Type, "failed").Inc()
	}
	if len(delivery.Message) > 1000 {
		delivery.Message = delivery.Message[:1000]
	}
}

// checkPolicy applies the operator's address policy to the effective
// address and proxy, as resolved now.
func (d *Dispatcher) checkPolicy(ctx context.Context, s *settings.Settings) error {
	if err := d.opts.AddressPolicy.CheckURL(ctx, s.Type, s.Address); err != nil {
		return fmt.Errorf("address: %w", err)
	}
	if err := d.opts.AddressPolicy.CheckURL(ctx, "generic", s.Proxy); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return nil
}

func toNotifierEvent(e *v1beta2.Event, a *v1beta2.Alert) notifier.Event {
	io := e.InvolvedObject
	return notifier.Event{
		InvolvedObject: notifier.ObjectReference{
			Kind: io.Kind, Namespace: io.Namespace, Name: io.Name, UID: io.UID,
			APIVersion: io.APIVersion, ResourceVersion: io.ResourceVersion, FieldPath: io.FieldPath,
		},
		Severity:            e.Severity,
		Timestamp:           e.Timestamp,
		Message:             e.Message,
		Reason:              e.Reason,
		Metadata:            MergeMetadata(e, a),
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
}

// writeStatus records routing and deliveries; on a conflict (a user
// labelled the Event) it writes them onto the latest version. It returns
// what was stored, nil when the Event is gone.
func (d *Dispatcher) writeStatus(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error) {
	if d.opts.WriteStatus != nil {
		written, err := d.opts.WriteStatus(ctx, e)
		if notFound(err) {
			return nil, nil // expired meanwhile
		}
		return written, err
	}
	events := d.client.NotificationV1beta2().Events(e.Namespace)
	written, err := events.UpdateStatus(ctx, e, metav1.UpdateOptions{FieldManager: "notification-apiserver"})
	if apierrors.IsConflict(err) {
		latest, gerr := events.Get(ctx, e.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, gerr
		}
		latest.Status = e.Status
		written, err = events.UpdateStatus(ctx, latest, metav1.UpdateOptions{FieldManager: "notification-apiserver"})
	}
	if notFound(err) {
		return nil, nil // expired meanwhile
	}
	return written, err
}

// notFound is apierrors.IsNotFound, which allocates even for no error:
// the delivery loop asks it of every lookup.
func notFound(err error) bool {
	return err != nil && apierrors.IsNotFound(err)
}
