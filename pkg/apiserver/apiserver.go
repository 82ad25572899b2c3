// Package apiserver assembles notification-apiserver: the scheme, the
// storage of every resource, and the generic API server that serves them.
package apiserver

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	compbasemetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/install"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
	"github.com/notification-apiserver/notification-apiserver/pkg/reconcile"
	alertstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/alert"
	eventstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/event"
	providerstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/provider"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/reconciled"
)

var (
	// Scheme holds every type the server serves.
	Scheme = runtime.NewScheme()
	// Codecs encodes and decodes the types of Scheme.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	install.Install(Scheme)
	// The generic server decodes options (ListOptions, ...) as meta/v1 in
	// the empty group, and serves unversioned discovery types.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	Scheme.AddUnversionedTypes(schema.GroupVersion{Group: "", Version: "v1"},
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}

// Config is the configuration of notification-apiserver.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

// ExtraConfig holds what the server needs beyond the generic API server.
type ExtraConfig struct {
	// EtcdClient reaches the etcd of the storage, to write Events in
	// batches (eventbatches). Without it eventbatches is not served.
	EtcdClient *clientv3.Client
	// EtcdKV is the KV API EtcdClient calls, for a client without a gRPC
	// connection (the embedded etcd's in-process client).
	EtcdKV etcdserverpb.KVClient
	// NotificationInformers watch this server's own resources through its
	// loopback client; they are started after the server starts.
	NotificationInformers informers.SharedInformerFactory
	// LocalInformers, when set, feed NotificationInformers' Providers and
	// Alerts from this server's storage (see NewLocalInformers).
	LocalInformers *LocalInformers
	// KubeClient and KubeInformers reach the Kubernetes API: Secrets for
	// the reconciler, and Events. Without them status is not reconciled.
	KubeClient    kubernetes.Interface
	KubeInformers kubeinformers.SharedInformerFactory
	// LeaderElection picks the replica that runs the reconciler.
	LeaderElection LeaderElection
	// Events are the retention and dedup window of Events.
	Events eventstorage.Options
	// Delivery tunes the delivery loop.
	Delivery delivery.Options
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config that Complete filled in. It can only be made
// by Complete, so New never runs on an incomplete configuration.
type CompletedConfig struct {
	*completedConfig
}

// Server is a running notification-apiserver.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in the fields that are not set.
func (c *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{GenericConfig: c.GenericConfig.Complete(), ExtraConfig: &c.ExtraConfig}}
}

// New builds the server: the generic API server with the notification API
// group installed on its storage.
func (c completedConfig) New() (*Server, error) {
	// EventBatch creates of the receiver take a shorter handler chain
	// (batchpath.go), once eventbatches is served.
	var batches *batchPath
	if c.ExtraConfig.EtcdClient != nil && c.GenericConfig.BuildHandlerChainFunc != nil {
		batches = &batchPath{admit: c.GenericConfig.AdmissionControl, maxBody: c.GenericConfig.MaxRequestBodyBytes}
		c.GenericConfig.BuildHandlerChainFunc = withBatchPath(batches, c.GenericConfig.BuildHandlerChainFunc)
	}
	generic, err := c.GenericConfig.New("notification-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	s := &Server{GenericAPIServer: generic}

	// Storage calls end before their request does: a client gets a 504,
	// not a reset stream, when etcd does not answer (see deadline.go).
	optsGetter := earlyDeadlines{c.GenericConfig.RESTOptionsGetter}
	providers, providerStatus, err := providerstorage.NewREST(Scheme, optsGetter, c.providerCheck())
	if err != nil {
		return nil, err
	}
	alerts, alertStatus, err := alertstorage.NewREST(Scheme, optsGetter, c.alertCheck())
	if err != nil {
		return nil, err
	}
	c.ExtraConfig.LocalInformers.bind(providers, alerts)
	backlog := &backlog{}
	eventOptions := c.ExtraConfig.Events
	eventOptions.Pending = backlog.pending
	eventOptions.NoAlertCanMatch = backlog.noAlertCanMatch
	eventOptions.RoutedAtCreate = delivery.RoutedAtCreate
	events, eventStatus, err := eventstorage.NewREST(Scheme, optsGetter, eventOptions)
	if err != nil {
		return nil, err
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(notification.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	resources := map[string]rest.Storage{
		"providers":        providers,
		"providers/status": providerStatus,
		"alerts":           alerts,
		"alerts/status":    alertStatus,
		"events":           events,
		"events/status":    eventStatus,
	}
	var eventWriter *eventstorage.Writer
	if c.ExtraConfig.EtcdClient != nil {
		eventWriter, err = eventstorage.NewWriter(c.ExtraConfig.EtcdClient, c.ExtraConfig.EtcdKV, c.GenericConfig.RESTOptionsGetter, events.Store.KeyFunc)
		if err != nil {
			return nil, err
		}
		batchStorage := eventstorage.NewBatchREST(events, eventWriter, c.GenericConfig.Authorization.Authorizer)
		// Each item is admitted as a create of it alone would be.
		batchStorage.UseAdmission(c.GenericConfig.AdmissionControl, objectInterfaces)
		resources["eventbatches"] = batchStorage
		events.UseWriter(eventWriter)
	}
	group.VersionedResourcesStorageMap[v1beta2.SchemeGroupVersion.Version] = resources
	if err := s.GenericAPIServer.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing the %s API group: %w", notification.GroupName, err)
	}
	if b, ok := resources["eventbatches"].(rest.Creater); ok {
		batches.bind(b, events)
	}
	writers := statusWriters{providers: providerStatus, alerts: alertStatus, events: eventStatus}
	if eventWriter != nil {
		writers.eventBatches = newEventStatusBatches(eventWriter, c.ExtraConfig.Delivery.Workers, writers.eventAlone)
	}
	if err := c.addReconciler(s.GenericAPIServer, writers, events, backlog); err != nil {
		return nil, err
	}
	if f := c.ExtraConfig.NotificationInformers; f != nil {
		s.GenericAPIServer.AddPostStartHookOrDie("start-notification-informers", func(ctx genericapiserver.PostStartHookContext) error {
			f.Start(ctx.Done())
			return nil
		})
	}
	return s, nil
}

// hasReconciler tells whether the server runs the status reconciler.
func (c completedConfig) hasReconciler() bool {
	x := c.ExtraConfig
	return x.KubeClient != nil && x.KubeInformers != nil && x.NotificationInformers != nil
}

// providerCheck lets the storage write a new generation of a Provider
// Ready at once when the reconciler's check finds it so: with the Secret
// informer synced, the status the reconciler would write then is known at
// the write, and the reconciler, finding it, writes nothing. A Provider
// not ready is marked Reconciling as before, for the reconciler to check
// and report (with a Kubernetes Event).
func (c completedConfig) providerCheck() reconciled.Options[*notification.Provider] {
	if !c.hasReconciler() {
		return reconciled.Options[*notification.Provider]{}
	}
	secrets := c.ExtraConfig.KubeInformers.Core().V1().Secrets()
	lister := secrets.Lister()
	getSecret := func(namespace, name string) (*corev1.Secret, error) {
		return lister.Secrets(namespace).Get(name)
	}
	return checkAtWrite(secrets.Informer().HasSynced,
		func(p *v1beta2.Provider) (*v1beta2.ProviderStatus, bool) { return reconcile.ReadyStatus(p, getSecret) },
		func(s *v1beta2.ProviderStatus, p *notification.Provider) error {
			return v1beta2.Convert_v1beta2_ProviderStatus_To_notification_ProviderStatus(s, &p.Status, nil)
		})
}

// alertCheck lets the storage write a new generation of an Alert Ready at
// once when its Provider is Ready in the server's Provider informer: the
// status the reconciler would write then is known at the write, and the
// reconciler, finding it, writes nothing (it still tells the Alert's
// becoming Ready with a Kubernetes Event). An Alert whose Provider is
// missing, suspended or not ready is marked Reconciling as before, for the
// reconciler to check and report.
func (c completedConfig) alertCheck() reconciled.Options[*notification.Alert] {
	if !c.hasReconciler() {
		return reconciled.Options[*notification.Alert]{}
	}
	providers := c.ExtraConfig.NotificationInformers.Notification().V1beta2().Providers()
	lister := providers.Lister()
	getProvider := func(namespace, name string) (*v1beta2.Provider, error) {
		return lister.Providers(namespace).Get(name)
	}
	opts := checkAtWrite(providers.Informer().HasSynced,
		func(a *v1beta2.Alert) (*v1beta2.AlertStatus, bool) { return reconcile.AlertReadyStatus(a, getProvider) },
		func(s *v1beta2.AlertStatus, a *notification.Alert) error {
			return v1beta2.Convert_v1beta2_AlertStatus_To_notification_AlertStatus(s, &a.Status, nil)
		})
	alerts := c.ExtraConfig.NotificationInformers.Notification().V1beta2().Alerts().Informer()
	follow := newCacheFollower()
	if _, err := alerts.AddEventHandler(follow.handler()); err != nil {
		// Only an informer already stopped refuses: nothing would be routed.
		klog.ErrorS(err, "Could not follow the server's Alert informer; Alerts are written Reconciling")
		return reconciled.Options[*notification.Alert]{}
	}
	registerAwaitMetrics.Do(func() { legacyregistry.MustRegister(cacheAwaits) })
	opts.Await = awaitCached(alerts.GetIndexer(), follow, readyAlert, awaitCachedTimeout, cacheAwaits.WithLabelValues("alerts"))
	return opts
}

// readyAlert tells whether an Alert is stored Ready at its generation.
func readyAlert(a *notification.Alert) bool {
	return a.Status.ObservedGeneration == a.Generation && apimeta.IsStatusConditionTrue(a.Status.Conditions, conditions.Ready)
}

// awaitCachedTimeout bounds how long a write waits for the server's
// informers: they follow its storage in-process, within a millisecond
// even under load; only informers not started yet, or an object deleted
// in the moment before its write began to wait, wait it out.
const awaitCachedTimeout = 5 * time.Second

var (
	cacheAwaits = compbasemetrics.NewHistogramVec(&compbasemetrics.HistogramOpts{
		Namespace:      "notification",
		Name:           "write_cache_await_seconds",
		Help:           "How long writes of objects stored Ready waited for the server's informers to hold them before being answered, by resource.",
		Buckets:        []float64{0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 5},
		StabilityLevel: compbasemetrics.ALPHA,
	}, []string{"resource"})
	registerAwaitMetrics sync.Once
)

// awaitCached returns an Await (reconciled.Options) that holds the answer
// to a write of an object stored ready until indexer holds that version
// of it or a later one, or has seen it deleted since (follow is fed by
// the handlers of indexer's informer).
// The reconciler writes an Alert Ready after reading it from the server's
// Alert informer, which the delivery loop routes Events with: Ready then
// means that an Event posted from then on is routed to it. An Alert
// written Ready by its create or spec change (alertCheck) means the same
// once the write is answered: an Event posted after `kubectl apply`
// returns, or after `kubectl wait --for=condition=Ready`, is routed to it.
func awaitCached[T reconciled.Object](indexer cache.Indexer, follow *cacheFollower, ready func(T) bool, timeout time.Duration, waited compbasemetrics.ObserverMetric) func(context.Context, T) {
	return func(ctx context.Context, o T) {
		if !ready(o) {
			return
		}
		rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
		if err != nil {
			return
		}
		key := o.GetNamespace() + "/" + o.GetName()
		start := time.Now()
		defer func() { waited.Observe(time.Since(start).Seconds()) }()
		if holds(indexer, key, rv) {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := follow.wait(ctx, indexer, key, rv); err != nil {
			klog.FromContext(ctx).Info("A written object is not in the server's cache yet; answering anyway", "key", key, "resourceVersion", rv, "err", err)
		}
	}
}

// holds tells whether indexer has the object of key at resourceVersion rv
// or later.
func holds(indexer cache.Indexer, key string, rv uint64) bool {
	obj, exists, err := indexer.GetByKey(key)
	if err != nil || !exists {
		return false
	}
	m, err := apimeta.Accessor(obj)
	if err != nil {
		return false
	}
	got, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	return err == nil && got >= rv
}

// cacheFollower wakes the writes waiting for an informer's indexer at
// each change it is told of, and remembers the deletions of the objects
// waited for. A shared informer updates its indexer before it tells its
// handlers, so a waiter woken finds the change there; and the watch of a
// deletion carries the object at the deletion's version, so an object
// created then deleted at once is not waited for until the timeout, as
// it was when the indexer was polled for it.
type cacheFollower struct {
	mu sync.Mutex
	// changed is closed, and replaced, at each change.
	changed chan struct{}
	// waiting counts the waiters of each key; deleted is the version of
	// the last deletion seen of a key waited for.
	waiting map[string]int
	deleted map[string]uint64
}

func newCacheFollower() *cacheFollower {
	return &cacheFollower{changed: make(chan struct{}), waiting: map[string]int{}, deleted: map[string]uint64{}}
}

// observe takes a change the handlers are told of.
func (f *cacheFollower) observe(obj any, deletion bool) {
	var key string
	var rv uint64
	if deletion {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			key, obj = d.Key, d.Obj
		}
		if m, err := apimeta.Accessor(obj); err == nil {
			if key == "" {
				key = m.GetNamespace() + "/" + m.GetName()
			}
			rv, _ = strconv.ParseUint(m.GetResourceVersion(), 10, 64)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if deletion && f.waiting[key] > 0 && rv > f.deleted[key] {
		f.deleted[key] = rv
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// handler feeds the follower from an informer.
func (f *cacheFollower) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { f.observe(obj, false) },
		UpdateFunc: func(_, obj any) { f.observe(obj, false) },
		DeleteFunc: func(obj any) { f.observe(obj, true) },
	}
}

// wait returns once indexer holds the object of key at version rv or
// later, or the object was seen deleted at rv or later; else ctx's error.
func (f *cacheFollower) wait(ctx context.Context, indexer cache.Indexer, key string, rv uint64) error {
	f.mu.Lock()
	f.waiting[key]++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.waiting[key]--; f.waiting[key] == 0 {
			delete(f.waiting, key)
			delete(f.deleted, key)
		}
	}()
	for {
		f.mu.Lock()
		changed, gone := f.changed, f.deleted[key] >= rv
		f.mu.Unlock()
		if gone || holds(indexer, key, rv) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checkAtWrite makes a kind's check at the write from its reconciler's:
// once synced (the informer the check reads), the object is converted to
// its served version E, ready tells the status the reconciler would write
// when it would write it Ready, and store puts that status on the object.
func checkAtWrite[I reconciled.Object, E any, PE interface {
	*E
	runtime.Object
}, S any](synced cache.InformerSynced, ready func(PE) (S, bool), store func(S, I) error) reconciled.Options[I] {
	return reconciled.Options[I]{Check: func(o I) bool {
		if !synced() {
			return false
		}
		external := PE(new(E))
		if err := Scheme.Convert(o, external, nil); err != nil {
			return false
		}
		status, ok := ready(external)
		return ok && store(status, o) == nil
	}}
}

// addReconciler runs the status reconciler and the delivery loop once the
// server serves, in the leader replica.
func (c completedConfig) addReconciler(s *genericapiserver.GenericAPIServer, writers statusWriters, events *eventstorage.REST, backlog *backlog) error {
	x := c.ExtraConfig
	if !c.hasReconciler() {
		klog.Warning("No Kubernetes API configured: Provider and Alert status will not be reconciled")
		return nil
	}
	// Status goes through the statusWriters (in-process); the client
	// remains for what the reconciler reads and the pending Events watch,
	// in protobuf.
	loopback := restclient.CopyConfig(c.GenericConfig.LoopbackClientConfig)
	loopback.ContentType = "application/vnd.kubernetes.protobuf"
	// Compressing a watch to this very process costs CPU for nothing
	// (gzip was 5% of the server's CPU under a burst of events).
	loopback.DisableCompression = true
	client, err := versioned.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("creating the reconciler's client: %w", err)
	}
	controller, err := reconcile.New(client, x.KubeClient, x.NotificationInformers, x.KubeInformers, Scheme)
	if err != nil {
		return fmt.Errorf("creating the reconciler: %w", err)
	}
	controller.SetStatusWriters(reconcile.StatusWriters{Provider: writers.provider, Alert: writers.alert})
	if x.LeaderElection.Enabled {
		controller.Handover, _, _ = x.LeaderElection.timings()
	}
	deliveryOptions := x.Delivery
	deliveryOptions.WriteStatus = writers.event
	deliveryOptions.Events = eventsInProcess(events)
	dispatcher, err := delivery.New(client, x.NotificationInformers, x.KubeInformers, deliveryOptions)
	if err != nil {
		return fmt.Errorf("creating the delivery loop: %w", err)
	}
	backlog.count.Store(dispatcher)
	return s.AddPostStartHook("notification-reconciler", func(ctx genericapiserver.PostStartHookContext) error {
		// Every replica counts the pending Events, for --max-pending-events.
		if err := dispatcher.Start(ctx); err != nil {
			return err
		}
		go func() {
			err := runAsLeader(ctx, x.KubeClient, x.LeaderElection, func(ctx context.Context) {
				var wg sync.WaitGroup
				wg.Add(2)
				go func() {
					defer wg.Done()
					if err := controller.Run(ctx, 2); err != nil {
						klog.ErrorS(err, "The reconciler stopped")
					}
				}()
				go func() {
					defer wg.Done()
					if err := dispatcher.Run(ctx); err != nil {
						klog.ErrorS(err, "The delivery loop stopped")
					}
				}()
				wg.Wait()
			})
			if err != nil {
				klog.ErrorS(err, "The reconciler did not start")
			}
		}()
		return nil
	})
}

// backlog tells the Event storage how many Events await delivery, once
// the delivery loop exists.
type backlog struct {
	count atomic.Pointer[delivery.Dispatcher]
}

// noAlertCanMatch tells, once the delivery loop exists, that no Alert can
// take the events of the object.
func (b *backlog) noAlertCanMatch(io notification.ObjectReference) bool {
	d := b.count.Load()
	return d != nil && d.NoAlertCanMatch(io.Namespace, io.Kind)
}

func (b *backlog) pending() int {
	if d := b.count.Load(); d != nil {
		return d.Pending()
	}
	return 0
}
