package reconcile

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// reconcileAlert marks an Alert Ready when its Provider exists and is Ready.
// A change of the Provider requeues the Alert, so no retry is needed.
func (c *Controller) reconcileAlert(ctx context.Context, namespace, name string) error {
	a, err := c.alerts.Alerts(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.announced.forget(namespace, name)
		return nil
	}
	if err != nil {
		return err
	}
	if a.Spec.Suspend {
		return nil
	}
	status, ready, err := checkAlert(a, c.getProvider)
	if err != nil {
		return err
	}
	if equalStatus(a.Status.ObservedGeneration, a.Status.LastHandledReconcileAt, a.Status.Conditions,
		status.ObservedGeneration, status.LastHandledReconcileAt, status.Conditions) {
		// Written Ready by its create or spec change (the storage's
		// check): its success is still told, once per generation.
		if ready && c.announced.first(a, c.leadingSince) {
			c.recorder.Event(a, corev1.EventTypeNormal, conditions.Succeeded, "Initialized")
		}
		return nil
	}
	before, after := readyOf(a.Status.Conditions), readyOf(status.Conditions)
	updated := a.DeepCopy()
	updated.Status = *status
	if err := c.writeAlertStatus(ctx, updated); err != nil {
		return fmt.Errorf("writing the status of Alert %s/%s: %w", namespace, name, err)
	}
	if before.Status != after.Status || before.Message != after.Message {
		if after.Status == metav1.ConditionTrue {
			c.announced.told(a)
			c.recorder.Event(a, corev1.EventTypeNormal, conditions.Succeeded, "Initialized")
		} else {
			c.recorder.Event(a, corev1.EventTypeWarning, after.Reason, after.Message)
		}
	}
	return nil
}

func (c *Controller) getProvider(namespace, name string) (*v1beta2.Provider, error) {
	return c.providers.Providers(namespace).Get(name)
}

// checkAlert returns the status that records whether a, not suspended,
// can deliver now: its Provider exists, is not suspended and is Ready.
// The error is a failure to look the Provider up, other than its absence.
func checkAlert(a *v1beta2.Alert, getProvider func(namespace, name string) (*v1beta2.Provider, error)) (*v1beta2.AlertStatus, bool, error) {
	status := a.Status.DeepCopy()
	status.ObservedGeneration = a.Generation
	if v, ok := a.Annotations[RequestedAtAnnotation]; ok {
		status.LastHandledReconcileAt = v
	}
	namespace, ref := a.Namespace, a.Spec.ProviderRef.Name
	p, err := getProvider(namespace, ref)
	switch {
	case apierrors.IsNotFound(err):
		conditions.MarkRetrying(&status.Conditions, a.Generation, conditions.Failed, fmt.Sprintf("Provider %s/%s not found", namespace, ref))
	case err != nil:
		return nil, false, err
	case p.Spec.Suspend:
		conditions.MarkRetrying(&status.Conditions, a.Generation, conditions.Failed, fmt.Sprintf("Provider %s/%s is suspended", namespace, ref))
	case !meta.IsStatusConditionTrue(p.Status.Conditions, conditions.Ready):
		conditions.MarkRetrying(&status.Conditions, a.Generation, conditions.Failed, fmt.Sprintf("Provider %s/%s is not ready", namespace, ref))
	default:
		conditions.MarkReady(&status.Conditions, a.Generation, "Initialized")
		return status, true, nil
	}
	return status, false, nil
}

// AlertReadyStatus is the status the reconciler would write for a, an
// Alert being created or whose spec changed, when its Provider is Ready
// now: the storage writes it with the object, which then needs no status
// write of its own. false for a suspended Alert, or one that cannot
// deliver yet: the reconciler checks those and reports why, with an
// Event.
func AlertReadyStatus(a *v1beta2.Alert, getProvider func(namespace, name string) (*v1beta2.Provider, error)) (*v1beta2.AlertStatus, bool) {
	if a.Spec.Suspend {
		return nil, false
	}
	status, ready, err := checkAlert(a, getProvider)
	return status, ready && err == nil
}

// announcements remembers the generation of each Alert whose becoming
// Ready the reconciler has told with a Kubernetes Event. An Alert written
// Ready by the storage needs no status write, so the reconciler tells it
// when it first sees that generation Ready, if it became Ready since this
// replica began to lead: not again for every Alert after a restart, nor
// for those the replica that led before told.
type announcements struct {
	mu  sync.Mutex
	gen map[string]int64 // namespace/name: generation
}

// first tells whether a's Ready generation is still to be told, and
// records it as told; since is when the replica began to lead.
func (n *announcements) first(a *v1beta2.Alert, since time.Time) bool {
	c := meta.FindStatusCondition(a.Status.Conditions, conditions.Ready)
	if c == nil || c.LastTransitionTime.Time.Before(since.Truncate(time.Second)) {
		return false
	}
	return n.record(a)
}

// told records a's generation as told.
func (n *announcements) told(a *v1beta2.Alert) { n.record(a) }

// record records a's generation as told, and tells whether it was not yet.
func (n *announcements) record(a *v1beta2.Alert) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	key := a.Namespace + "/" + a.Name
	if g, ok := n.gen[key]; ok && g == a.Generation {
		return false
	}
	if n.gen == nil {
		n.gen = map[string]int64{}
	}
	n.gen[key] = a.Generation
	return true
}

// forget drops an Alert that is gone.
func (n *announcements) forget(namespace, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.gen, namespace+"/"+name)
}

// alertsByProvider indexes Alerts by the Provider they route to
// (namespace/name): a Provider's change, and every Provider as the
// informers fill at start-up, finds its Alerts without reading all those
// of its namespace. With 10,000 Alerts in one namespace that read took
// 594 µs against 0.4 µs by index (BenchmarkAlertsOfProviderAmong10000):
// 6 s of CPU for a start with 10,000 Providers there.
const alertsByProvider = "providerRef"

func alertProviderKey(obj any) ([]string, error) {
	a, ok := obj.(*v1beta2.Alert)
	if !ok {
		return nil, nil
	}
	return []string{a.Namespace + "/" + a.Spec.ProviderRef.Name}, nil
}

// addProviderIndex adds the index to the Alert informer once: another
// controller on the same factory shares it.
func addProviderIndex(informer cache.SharedIndexInformer) error {
	if _, ok := informer.GetIndexer().GetIndexers()[alertsByProvider]; ok {
		return nil
	}
	return informer.AddIndexers(cache.Indexers{alertsByProvider: alertProviderKey})
}

// alertsOfProvider lists the Alerts of a namespace that route to a Provider.
func (c *Controller) alertsOfProvider(namespace, provider string) []string {
	keys, err := c.alertIndex.IndexKeys(alertsByProvider, namespace+"/"+provider)
	if err != nil {
		return nil
	}
	return keys
}

func (c *Controller) writeAlertStatus(ctx context.Context, a *v1beta2.Alert) error {
	if c.writers.Alert != nil {
		return c.writers.Alert(ctx, a)
	}
	_, err := c.client.NotificationV1beta2().Alerts(a.Namespace).UpdateStatus(ctx, a, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}
