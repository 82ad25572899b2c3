package reconcile

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
	listers "github.com/notification-apiserver/notification-apiserver/pkg/generated/listers/notification/v1beta2"
)

const fieldManager = "notification-apiserver"

// Controller reconciles the status of Providers and Alerts.
type Controller struct {
	client    versioned.Interface
	providers listers.ProviderLister
	alerts    listers.AlertLister
	// alertIndex is the Alert informer's indexer, with alertsByProvider.
	alertIndex cache.Indexer
	secrets    corelisters.SecretLister
	synced     []cache.InformerSynced
	recorder   record.EventRecorder
	events     record.EventBroadcaster
	// startEvents starts sending Events once, on the first Run.
	startEvents sync.Once
	kube        kubernetes.Interface

	providerQueue workqueue.TypedRateLimitingInterface[string]
	alertQueue    workqueue.TypedRateLimitingInterface[string]

	writers StatusWriters

	// leadingSince is from when the running Run tells Alerts written
	// Ready (set before its workers start; see Run); announced, the
	// Alerts whose becoming Ready it told (see announcements).
	leadingSince time.Time
	announced    announcements
	// built is when the controller was made: this replica, which serves
	// writes from its start, holds no Lease before.
	built time.Time

	// Handover is how long a replica that led before may have stopped
	// telling Alerts before this one leads: the Lease's duration.
	Handover time.Duration
}

// StatusWriters store the status of a Provider or an Alert. The server
// passes ones that write into its storage in-process; by default they go
// through the client's /status.
type StatusWriters struct {
	Provider func(ctx context.Context, p *v1beta2.Provider) error
	Alert    func(ctx context.Context, a *v1beta2.Alert) error
}

// SetStatusWriters replaces the default status writers; call before Run.
func (c *Controller) SetStatusWriters(w StatusWriters) { c.writers = w }

// New returns a Controller. scheme must know the v1beta2 types, for the
// references of Kubernetes Events.
func New(client versioned.Interface, kube kubernetes.Interface, nf informers.SharedInformerFactory,
	kf kubeinformers.SharedInformerFactory, scheme *runtime.Scheme) (*Controller, error) {
	providerInformer := nf.Notification().V1beta2().Providers()
	alertInformer := nf.Notification().V1beta2().Alerts()
	secretInformer := kf.Core().V1().Secrets()
	events := record.NewBroadcaster()
	c := &Controller{
		built:      time.Now(),
		client:     client,
		kube:       kube,
		providers:  providerInformer.Lister(),
		alerts:     alertInformer.Lister(),
		alertIndex: alertInformer.Informer().GetIndexer(),
		secrets:    secretInformer.Lister(),
		synced: []cache.InformerSynced{
			providerInformer.Informer().HasSynced, alertInformer.Informer().HasSynced, secretInformer.Informer().HasSynced,
		},
		events:   events,
		recorder: events.NewRecorder(scheme, corev1.EventSource{Component: "notification-apiserver"}),
		providerQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "providers"}),
		alertQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "alerts"}),
	}

	if err := addProviderIndex(alertInformer.Informer()); err != nil {
		return nil, fmt.Errorf("indexing Alerts by Provider: %w", err)
	}
	if _, err := providerInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			c.enqueue(c.providerQueue, obj)
			c.enqueueAlertsOf(obj)
		},
		UpdateFunc: func(old, obj any) {
			if needsReconcile(old.(*v1beta2.Provider).ObjectMeta, obj.(*v1beta2.Provider).ObjectMeta, obj.(*v1beta2.Provider).Status.ObservedGeneration) {
				c.enqueue(c.providerQueue, obj)
			}
			c.enqueueAlertsOf(obj)
		},
		DeleteFunc: func(obj any) { c.enqueueAlertsOf(obj) },
	}); err != nil {
		return nil, err
	}
	if _, err := alertInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(c.alertQueue, obj) },
		UpdateFunc: func(old, obj any) {
			if needsReconcile(old.(*v1beta2.Alert).ObjectMeta, obj.(*v1beta2.Alert).ObjectMeta, obj.(*v1beta2.Alert).Status.ObservedGeneration) {
				c.enqueue(c.alertQueue, obj)
			}
		},
		// A deleted Alert's becoming Ready is no longer remembered.
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				if namespace, name, err := cache.SplitMetaNamespaceKey(key); err == nil {
					c.announced.forget(namespace, name)
				}
			}
		},
	}); err != nil {
		return nil, err
	}
	if _, err := secretInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.secretChanged,
		UpdateFunc: func(old, obj any) {
			if old.(*corev1.Secret).ResourceVersion != obj.(*corev1.Secret).ResourceVersion {
				c.secretChanged(obj)
			}
		},
		DeleteFunc: c.secretChanged,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// needsReconcile: a new generation, a new reconcile request, or a status
// that lags behind (an earlier write lost).
func needsReconcile(old, obj metav1.ObjectMeta, observedGeneration int64) bool {
	return old.Generation != obj.Generation ||
		old.Annotations[RequestedAtAnnotation] != obj.Annotations[RequestedAtAnnotation] ||
		observedGeneration != obj.Generation
}

func (c *Controller) enqueue(q workqueue.TypedRateLimitingInterface[string], obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		q.Add(key)
	}
}

func (c *Controller) enqueueAlertsOf(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*v1beta2.Provider)
	if !ok {
		return
	}
	for _, key := range c.alertsOfProvider(p.Namespace, p.Name) {
		c.alertQueue.Add(key)
	}
}

func (c *Controller) secretChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	for _, key := range c.providersUsingSecret(s.Namespace, s.Name) {
		c.providerQueue.Add(key)
	}
}

// Run reconciles with the given number of workers per kind until ctx ends.
// It can run again after that (a replica that regains leadership): the
// queues keep what was enqueued meanwhile.
func (c *Controller) Run(ctx context.Context, workers int) error {
	logger := klog.FromContext(ctx)
	c.startEvents.Do(func() {
		c.events.StartStructuredLogging(3)
		c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events("")})
	})
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("reconciler: caches did not sync")
	}
	logger.Info("Reconciling Providers and Alerts", "workers", workers)
	// The workers of an earlier Run have all returned. Alerts written
	// Ready are told if they became Ready since another replica may have
	// stopped telling them (up to a Lease's duration before now), or since
	// this replica started, whichever is later: a single replica tells
	// every Alert created Ready while it waited for the Lease; a takeover
	// may tell again one the replica before told in its last moments.
	c.leadingSince = tellSince(time.Now(), c.built, c.Handover)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(2)
		go func() { defer wg.Done(); c.work(ctx, c.providerQueue, c.processProvider) }()
		go func() { defer wg.Done(); c.work(ctx, c.alertQueue, c.processAlert) }()
	}
	<-ctx.Done()
	// Wake the workers blocked on empty queues, without shutting them down.
	// A queue holds one copy of a key: each worker needs its own wake-up
	// key, or only one would wake and Run would never return.
	for i := range workers {
		c.providerQueue.Add(wakeUp + strconv.Itoa(i))
		c.alertQueue.Add(wakeUp + strconv.Itoa(i))
	}
	wg.Wait()
	logger.Info("Stopped reconciling Providers and Alerts")
	return nil
}

// wakeUp begins the keys, which no object has, that unblock a worker so
// that it sees its context is done. Keys left over wake workers of the
// next Run, which go on.
const wakeUp = "/"

func isWakeUp(key string) bool { return strings.HasPrefix(key, wakeUp) }

func (c *Controller) work(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], process func(context.Context, string)) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		if isWakeUp(key) || ctx.Err() != nil {
			q.Done(key)
			if !isWakeUp(key) {
				q.Add(key) // not handled: keep it for the next run
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		process(ctx, key)
		q.Done(key)
	}
}

func (c *Controller) processProvider(ctx context.Context, key string) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		c.providerQueue.Forget(key)
		return
	}
	res, interval, err := c.reconcileProvider(ctx, namespace, name)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Reconciling a Provider", "provider", key)
	}
	switch res {
	case resultReady:
		c.providerQueue.Forget(key)
		c.providerQueue.AddAfter(key, interval)
	case resultRetry:
		c.providerQueue.AddRateLimited(key)
	case resultStalled:
		c.providerQueue.Forget(key)
	}
}

func (c *Controller) processAlert(ctx context.Context, key string) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err == nil {
		err = c.reconcileAlert(ctx, namespace, name)
	}
	if err != nil {
		klog.FromContext(ctx).Error(err, "Reconciling an Alert", "alert", key)
		c.alertQueue.AddRateLimited(key)
		return
	}
	c.alertQueue.Forget(key)
}

// equalStatus compares two statuses, conditions without their transition times.
func equalStatus(gen1 int64, handled1 string, conds1 []metav1.Condition, gen2 int64, handled2 string, conds2 []metav1.Condition) bool {
	if gen1 != gen2 || handled1 != handled2 || len(conds1) != len(conds2) {
		return false
	}
	for i := range conds1 {
		a, b := conds1[i], conds2[i]
		if a.Type != b.Type || a.Status != b.Status || a.Reason != b.Reason || a.Message != b.Message || a.ObservedGeneration != b.ObservedGeneration {
			return false
		}
	}
	return true
}

// tellSince is from when a Run that begins at now tells Alerts written
// Ready, for a controller built at built and a Lease of duration
// handover.
func tellSince(now, built time.Time, handover time.Duration) time.Time {
	if since := now.Add(-handover); since.After(built) {
		return since
	}
	return built
}
