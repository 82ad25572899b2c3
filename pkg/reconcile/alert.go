package reconcile

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// reconcileAlert marks an Alert Ready when its Provider exists and is Ready.
// A change of the Provider requeues the Alert, so no retry is needed.
func (c *Controller) reconcileAlert(ctx context.Context, namespace, name string) error {
	a, err := c.alerts.Alerts(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if a.Spec.Suspend {
		return nil
	}
	status := a.Status.DeepCopy()
	status.ObservedGeneration = a.Generation
	if v, ok := a.Annotations[RequestedAtAnnotation]; ok {
		status.LastHandledReconcileAt = v
	}
	ref := a.Spec.ProviderRef.Name
	p, err := c.providers.Providers(namespace).Get(ref)
	switch {
	case apierrors.IsNotFound(err):
		conditions.MarkRetrying(&status.Conditions, a.Generation, conditions.Failed, fmt.Sprintf("Provider %s/%s not found", namespace, ref))
	case err != nil:
		return err
	case p.Spec.Suspend:
		conditions.MarkRetrying(&status.Conditions, a.Generation, conditions.Failed, fmt.Sprintf("Provider %s/%s is suspended", namespace, ref))
	case !meta.IsStatusConditionTrue(p.Status.Conditions, conditions.Ready):
		conditions.MarkRetrying(&status.Conditions, a.Generation, conditions.Failed, fmt.Sprintf("Provider %s/%s is not ready", namespace, ref))
	default:
		conditions.MarkReady(&status.Conditions, a.Generation, "Initialized")
	}
	if equalStatus(a.Status.ObservedGeneration, a.Status.LastHandledReconcileAt, a.Status.Conditions,
		status.ObservedGeneration, status.LastHandledReconcileAt, status.Conditions) {
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
			c.recorder.Event(a, corev1.EventTypeNormal, conditions.Succeeded, "Initialized")
		} else {
			c.recorder.Event(a, corev1.EventTypeWarning, after.Reason, after.Message)
		}
	}
	return nil
}

// alertsOfProvider lists the Alerts of a namespace that route to a Provider.
func (c *Controller) alertsOfProvider(namespace, provider string) []string {
	as, err := c.alerts.Alerts(namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, a := range as {
		if a.Spec.ProviderRef.Name == provider {
			if key, err := cache.MetaNamespaceKeyFunc(a); err == nil {
				keys = append(keys, key)
			}
		}
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
