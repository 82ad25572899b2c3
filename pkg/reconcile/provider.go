// Package reconcile keeps the status of Providers and Alerts true: it
// checks each Provider's effective settings (spec and Secrets) at
// spec.interval, after every change of the Provider or of a Secret it
// references, and on reconcile.fluxcd.io/requestedAt; and each Alert's
// Provider. It writes conditions through the status subresource and
// records Kubernetes Events on the objects.
package reconcile

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// RequestedAtAnnotation asks for a reconciliation now; its value is recorded
// in status.lastHandledReconcileAt.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

type result int

const (
	resultReady result = iota
	resultRetry
	resultStalled
)

// reconcileProvider checks one Provider and writes its status. It returns
// what to do next: requeue after the interval, retry with backoff, or wait
// for a change.
func (c *Controller) reconcileProvider(ctx context.Context, namespace, name string) (result, time.Duration, error) {
	p, err := c.providers.Providers(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return resultStalled, 0, nil
	}
	if err != nil {
		return resultRetry, 0, err
	}
	if p.Spec.Suspend {
		klog.FromContext(ctx).V(4).Info("Reconciliation is suspended for this object", "provider", klog.KObj(p))
		return resultStalled, 0, nil
	}
	interval := v1beta2.DefaultProviderInterval
	if p.Spec.Interval != nil && p.Spec.Interval.Duration > 0 {
		interval = p.Spec.Interval.Duration
	}

	status, res := checkProvider(p, c.getSecret)
	before := readyOf(p.Status.Conditions)
	if err := c.writeProviderStatus(ctx, p, status); err != nil {
		return resultRetry, 0, err
	}
	after := readyOf(status.Conditions)
	switch {
	case res == resultReady:
		c.recorder.Eventf(p, corev1.EventTypeNormal, conditions.Succeeded, "Reconciliation finished, next run in %s", shortDuration(interval))
	case before.Reason != after.Reason || before.Message != after.Message || before.Status != after.Status:
		c.recorder.Event(p, corev1.EventTypeWarning, after.Reason, after.Message)
	}
	return res, interval, nil
}

// checkProvider checks p's effective settings now and returns the status
// that records the outcome, and what the reconciler does next.
func checkProvider(p *v1beta2.Provider, getSecret settings.SecretGetter) (*v1beta2.ProviderStatus, result) {
	status := p.Status.DeepCopy()
	status.ObservedGeneration = p.Generation
	if v, ok := p.Annotations[RequestedAtAnnotation]; ok {
		status.LastHandledReconcileAt = v
	}
	_, resolveErr := settings.Resolve(p, getSecret)
	switch {
	case resolveErr == nil:
		conditions.MarkReady(&status.Conditions, p.Generation, "Initialized")
		return status, resultReady
	case settings.IsInvalidURL(resolveErr):
		conditions.MarkStalled(&status.Conditions, p.Generation, conditions.InvalidURL, resolveErr.Error())
		return status, resultStalled
	default:
		conditions.MarkRetrying(&status.Conditions, p.Generation, conditions.ValidationFailed, resolveErr.Error())
		return status, resultRetry
	}
}

// ReadyStatus is the status the reconciler would write for p, a Provider
// being created or whose spec changed, when a check finds it ready now:
// the storage writes it with the object, which then needs no status write
// of its own. false for a suspended Provider, or one not ready: the
// reconciler checks those and reports their problems, with an Event.
func ReadyStatus(p *v1beta2.Provider, getSecret settings.SecretGetter) (*v1beta2.ProviderStatus, bool) {
	if p.Spec.Suspend {
		return nil, false
	}
	status, res := checkProvider(p, getSecret)
	return status, res == resultReady
}

func (c *Controller) writeProviderStatus(ctx context.Context, p *v1beta2.Provider, status *v1beta2.ProviderStatus) error {
	if equalStatus(p.Status.ObservedGeneration, p.Status.LastHandledReconcileAt, p.Status.Conditions,
		status.ObservedGeneration, status.LastHandledReconcileAt, status.Conditions) {
		return nil
	}
	updated := p.DeepCopy()
	updated.Status = *status
	var err error
	if c.writers.Provider != nil {
		err = c.writers.Provider(ctx, updated)
	} else {
		_, err = c.client.NotificationV1beta2().Providers(p.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	if err != nil {
		return fmt.Errorf("writing the status of Provider %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// providersUsingSecret lists the Providers of a namespace that reference a Secret.
func (c *Controller) providersUsingSecret(namespace, secret string) []string {
	ps, err := c.providers.Providers(namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, p := range ps {
		if (p.Spec.SecretRef != nil && p.Spec.SecretRef.Name == secret) ||
			(p.Spec.CertSecretRef != nil && p.Spec.CertSecretRef.Name == secret) {
			if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
				keys = append(keys, key)
			}
		}
	}
	return keys
}

func (c *Controller) getSecret(namespace, name string) (*corev1.Secret, error) {
	return c.secrets.Secrets(namespace).Get(name)
}

func readyOf(conds []metav1.Condition) metav1.Condition {
	for _, c := range conds {
		if c.Type == conditions.Ready {
			return c
		}
	}
	return metav1.Condition{}
}

// shortDuration prints 10m rather than 10m0s, as Flux's messages do.
func shortDuration(d time.Duration) string {
	s := d.String()
	if len(s) > 2 && s[len(s)-2:] == "0s" && (len(s) > 3 && (s[len(s)-3] == 'm' || s[len(s)-3] == 'h')) {
		s = s[:len(s)-2]
	}
	if len(s) > 2 && s[len(s)-2:] == "0m" && s[len(s)-3] == 'h' {
		s = s[:len(s)-2]
	}
	return s
}
