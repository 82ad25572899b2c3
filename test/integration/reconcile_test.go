package integration

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

const secretValue = "xoxb-t0ps3cr3t-value"

// waitProvider waits until the Provider's conditions satisfy ok.
func waitProvider(t *testing.T, ns, name, what string, ok func(*v1beta2.Provider) bool) *v1beta2.Provider {
	t.Helper()
	var last *v1beta2.Provider
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.NotificationV1beta2().Providers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return ok(p), nil
	})
	if err != nil {
		t.Fatalf("Provider %s/%s never became %s: %v; status %+v", ns, name, what, err, last.Status)
	}
	return last
}

func condition(p *v1beta2.Provider, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(p.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func isReady(p *v1beta2.Provider) bool {
	c := condition(p, "Ready")
	return c.Status == metav1.ConditionTrue && c.Reason == "Succeeded" && c.Message == "Initialized" &&
		p.Status.ObservedGeneration == p.Generation && meta.FindStatusCondition(p.Status.Conditions, "Reconciling") == nil
}

func isRetrying(p *v1beta2.Provider) bool {
	return condition(p, "Ready").Status == metav1.ConditionFalse &&
		condition(p, "Reconciling").Status == metav1.ConditionTrue && condition(p, "Reconciling").Reason == "ProgressingWithRetry" &&
		p.Status.ObservedGeneration == p.Generation
}

func isStalled(p *v1beta2.Provider) bool {
	return condition(p, "Ready").Status == metav1.ConditionFalse && condition(p, "Ready").Reason == "InvalidURL" &&
		condition(p, "Stalled").Status == metav1.ConditionTrue && condition(p, "Stalled").Reason == "InvalidURL" &&
		meta.FindStatusCondition(p.Status.Conditions, "Reconciling") == nil
}

func createSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	if _, err := server.Kube.CoreV1().Secrets(ns).Create(t.Context(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func eventsOf(t *testing.T, ns, name string) []corev1.Event {
	t.Helper()
	list, err := server.Kube.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func TestProviderFollowsItsSecret(t *testing.T) {
	ns := "reconcile-secret"
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "slack-bot"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitProvider(t, ns, "slack-bot", "retrying on the missing Secret", isRetrying)
	if msg := condition(p, "Ready").Message; !strings.Contains(msg, "Secret reconcile-secret/slack-bot-token not found") {
		t.Errorf("Ready message %q does not say the Secret is missing", msg)
	}

	createSecret(t, ns, "slack-bot-token", map[string]string{"token": secretValue})
	waitProvider(t, ns, "slack-bot", "Ready", isReady)

	if err := server.Kube.CoreV1().Secrets(ns).Delete(t.Context(), "slack-bot-token", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitProvider(t, ns, "slack-bot", "retrying after the Secret was deleted", isRetrying)

	createSecret(t, ns, "slack-bot-token", map[string]string{"token": secretValue})
	waitProvider(t, ns, "slack-bot", "Ready again", isReady)

	// Kubernetes Events record the transitions and each success.
	var sawWarning, sawSuccess bool
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for _, e := range eventsOf(t, ns, "slack-bot") {
			if e.InvolvedObject.Kind != "Provider" || e.InvolvedObject.APIVersion != "notification.toolkit.fluxcd.io/v1beta2" {
				t.Errorf("event about %+v", e.InvolvedObject)
			}
			if strings.Contains(e.Message, secretValue) {
				t.Errorf("event %q shows the Secret's value", e.Message)
			}
			sawWarning = sawWarning || (e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, "not found"))
			sawSuccess = sawSuccess || (e.Type == corev1.EventTypeNormal && e.Reason == "Succeeded" && e.Message == "Reconciliation finished, next run in 10m")
		}
		return sawWarning && sawSuccess, nil
	})
	if err != nil {
		t.Errorf("events: warning %v, success %v", sawWarning, sawSuccess)
	}
}

func TestAnInvalidSecretAddressStallsTheProvider(t *testing.T) {
	ns := "reconcile-stalled"
	createSecret(t, ns, "hook", map[string]string{"address": "not a url " + secretValue})
	p := newProvider(ns, "hook")
	p.Spec.Type, p.Spec.Address, p.Spec.Channel = "generic", "", ""
	p.Spec.SecretRef = &v1beta2.LocalObjectReference{Name: "hook"}
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitProvider(t, ns, "hook", "Stalled", isStalled)
	for _, c := range got.Status.Conditions {
		if strings.Contains(c.Message, secretValue) {
			t.Errorf("condition %s shows the address: %q", c.Type, c.Message)
		}
	}
}

func TestSecretKeysAreChecked(t *testing.T) {
	ns := "reconcile-keys"
	for name, tc := range map[string]struct {
		typ  string
		data map[string]string
		want string
	}{
		"bad-headers": {"generic", map[string]string{"headers": "- not\n- a map " + secretValue}, "headers key"},
		"no-hmac-key": {"generic-hmac", map[string]string{"address": "https://hooks.example.com/"}, "needs the token key"},
		"bad-ca":      {"generic", map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----\n" + secretValue}, "not valid PEM"},
	} {
		createSecret(t, ns, name, tc.data)
		p := newProvider(ns, name)
		p.Spec.Type, p.Spec.Address, p.Spec.Channel = tc.typ, "https://hooks.example.com/", ""
		if name == "bad-ca" {
			p.Spec.SecretRef = nil
			p.Spec.CertSecretRef = &v1beta2.LocalObjectReference{Name: name}
		} else {
			p.Spec.SecretRef = &v1beta2.LocalObjectReference{Name: name}
		}
		if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The Secret may reach the reconciler's cache after the Provider:
		// wait for the message about its keys, not only for a retry.
		got := waitProvider(t, ns, name, "retrying on the Secret's keys", func(p *v1beta2.Provider) bool {
			return isRetrying(p) && strings.Contains(condition(p, "Ready").Message, tc.want)
		})
		if msg := condition(got, "Ready").Message; strings.Contains(msg, secretValue) {
			t.Errorf("%s: Ready message %q, want it to say %q without the value", name, msg, tc.want)
		}
	}
}

func TestReconcileRequestIsRecorded(t *testing.T) {
	ns := "reconcile-request"
	createSecret(t, ns, "slack-bot-token", map[string]string{"token": secretValue})
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitProvider(t, ns, "p", "Ready", isReady)
	updateProvider(t, client.NotificationV1beta2().Providers(ns), "p", func(p *v1beta2.Provider) {
		p.Annotations = map[string]string{"reconcile.fluxcd.io/requestedAt": "2026-11-26T12:00:00Z"}
	})
	waitProvider(t, ns, "p", "handling the request", func(p *v1beta2.Provider) bool {
		return p.Status.LastHandledReconcileAt == "2026-11-26T12:00:00Z" && isReady(p)
	})
}

func TestSuspendedProvidersKeepTheirConditions(t *testing.T) {
	ns := "reconcile-suspend"
	createSecret(t, ns, "slack-bot-token", map[string]string{"token": secretValue})
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitProvider(t, ns, "p", "Ready", isReady)
	suspended := updateProvider(t, client.NotificationV1beta2().Providers(ns), "p", func(p *v1beta2.Provider) { p.Spec.Suspend = true })
	// The spec change marks the generation Reconciling; suspended, it stays so.
	time.Sleep(2 * time.Second)
	got, err := client.NotificationV1beta2().Providers(ns).Get(t.Context(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.ObservedGeneration != suspended.Status.ObservedGeneration || condition(got, "Ready").Status != metav1.ConditionUnknown {
		t.Errorf("a suspended Provider was reconciled: %+v", got.Status)
	}
}

func TestAlertFollowsItsProvider(t *testing.T) {
	ns := "reconcile-alert"
	if _, err := client.NotificationV1beta2().Alerts(ns).Create(t.Context(), newAlert(ns, "slack"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAlert := func(what string, ok func(metav1.Condition) bool) {
		t.Helper()
		var last *v1beta2.Alert
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			a, err := client.NotificationV1beta2().Alerts(ns).Get(ctx, "slack", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			last = a
			c := meta.FindStatusCondition(a.Status.Conditions, "Ready")
			return c != nil && ok(*c) && a.Status.ObservedGeneration == a.Generation, nil
		})
		if err != nil {
			t.Fatalf("Alert never %s: %+v", what, last.Status)
		}
	}
	waitAlert("said its Provider is missing", func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "Provider reconcile-alert/slack-bot not found")
	})
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "slack-bot"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAlert("said its Provider is not ready", func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "is not ready")
	})
	createSecret(t, ns, "slack-bot-token", map[string]string{"token": secretValue})
	waitAlert("became Ready", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue && c.Reason == "Succeeded" })
}

// A Provider the check finds ready is written Ready with its first
// generation, and with each spec change: the reconciler then finds its
// status current, writes nothing, and still records its success.
func TestAReadyProviderIsWrittenReady(t *testing.T) {
	ns := "reconcile-at-write"
	createSecret(t, ns, "slack-bot-token", map[string]string{"token": secretValue})
	// The server's Secret informer must have seen the Secret: until then
	// the create is marked Reconciling, as before.
	waitSecretSeen := func() *v1beta2.Provider {
		var created *v1beta2.Provider
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_ = client.NotificationV1beta2().Providers(ns).Delete(ctx, "slack-bot", metav1.DeleteOptions{})
			p, err := client.NotificationV1beta2().Providers(ns).Create(ctx, newProvider(ns, "slack-bot"), metav1.CreateOptions{})
			if err != nil {
				return false, nil // the delete may not have landed yet
			}
			created = p
			return isReady(p), nil
		})
		if err != nil {
			t.Fatalf("a Provider with its Secret present was never created Ready: %+v", created)
		}
		return created
	}
	created := waitSecretSeen()
	if created.Status.ObservedGeneration != 1 {
		t.Errorf("created with observedGeneration %d, want 1", created.Status.ObservedGeneration)
	}

	// The reconciler records its success without writing the status again.
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for _, e := range eventsOf(t, ns, "slack-bot") {
			if e.Reason == "Succeeded" && e.InvolvedObject.UID == created.UID {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the reconciler recorded no success for the Provider created Ready")
	}
	now, err := client.NotificationV1beta2().Providers(ns).Get(t.Context(), "slack-bot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if now.ResourceVersion != created.ResourceVersion {
		t.Errorf("the reconciler wrote the status of a Provider created Ready: %+v", now.Status)
	}

	// A spec change is checked at the write too.
	now.Spec.Channel = "alerts"
	updated, err := client.NotificationV1beta2().Providers(ns).Update(t.Context(), now, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !isReady(updated) || updated.Status.ObservedGeneration != 2 {
		t.Errorf("after a spec change: generation %d, status %+v, want Ready for generation 2", updated.Generation, updated.Status)
	}

	// One the check does not find ready waits for the reconciler, which
	// reports why.
	missing := newProvider(ns, "no-secret")
	missing.Spec.SecretRef.Name = "absent"
	p, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), missing, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := condition(p, "Reconciling"); c.Status != metav1.ConditionTrue || c.Reason != "Progressing" {
		t.Errorf("a Provider with its Secret missing was created with %+v, want Reconciling", p.Status.Conditions)
	}
	waitProvider(t, ns, "no-secret", "retrying on the missing Secret", isRetrying)
}

// An Alert whose Provider is Ready is written Ready with its first
// generation, and with each spec change: the reconciler then finds its
// status current, writes nothing, and still tells its becoming Ready with
// a Kubernetes Event. One whose Provider is not ready waits for the
// reconciler, as before.
func TestAnAlertOfAReadyProviderIsWrittenReady(t *testing.T) {
	ns := "reconcile-alert-at-write"
	createSecret(t, ns, "slack-bot-token", map[string]string{"token": secretValue})
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "slack-bot"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitProvider(t, ns, "slack-bot", "Ready", isReady)
	alertReady := func(a *v1beta2.Alert) bool {
		c := meta.FindStatusCondition(a.Status.Conditions, "Ready")
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == "Succeeded" && c.Message == "Initialized" &&
			a.Status.ObservedGeneration == a.Generation && meta.FindStatusCondition(a.Status.Conditions, "Reconciling") == nil
	}
	// The server's Provider informer must have seen the Provider Ready:
	// until then the create is marked Reconciling, as before.
	var created *v1beta2.Alert
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_ = client.NotificationV1beta2().Alerts(ns).Delete(ctx, "slack", metav1.DeleteOptions{})
		a, err := client.NotificationV1beta2().Alerts(ns).Create(ctx, newAlert(ns, "slack"), metav1.CreateOptions{})
		if err != nil {
			return false, nil // the delete may not have landed yet
		}
		created = a
		return alertReady(a), nil
	})
	if err != nil {
		t.Fatalf("an Alert of a Ready Provider was never created Ready: %+v", created)
	}
	if created.Status.ObservedGeneration != 1 {
		t.Errorf("created with observedGeneration %d, want 1", created.Status.ObservedGeneration)
	}

	// The reconciler tells it without writing the status again.
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for _, e := range eventsOf(t, ns, "slack") {
			if e.Reason == "Succeeded" && e.Message == "Initialized" && e.InvolvedObject.UID == created.UID {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the reconciler told nothing of the Alert created Ready")
	}
	now, err := client.NotificationV1beta2().Alerts(ns).Get(t.Context(), "slack", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if now.ResourceVersion != created.ResourceVersion {
		t.Errorf("the reconciler wrote the status of an Alert created Ready: %+v", now.Status)
	}

	// A spec change is checked at the write too.
	now.Spec.EventSeverity = "error"
	updated, err := client.NotificationV1beta2().Alerts(ns).Update(t.Context(), now, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !alertReady(updated) || updated.Status.ObservedGeneration != 2 {
		t.Errorf("after a spec change: generation %d, status %+v, want Ready for generation 2", updated.Generation, updated.Status)
	}

	// One whose Provider is missing is written Reconciling, and the
	// reconciler reports why.
	orphan := newAlert(ns, "orphan")
	orphan.Spec.ProviderRef.Name = "absent"
	a, err := client.NotificationV1beta2().Alerts(ns).Create(t.Context(), orphan, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(a.Status.Conditions, "Reconciling"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("an Alert with its Provider missing was created with %+v, want Reconciling", a.Status.Conditions)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		a, err := client.NotificationV1beta2().Alerts(ns).Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(a.Status.Conditions, "Ready")
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "Provider "+ns+"/absent not found"), nil
	})
	if err != nil {
		t.Fatalf("the reconciler did not report the missing Provider: %v", err)
	}
}

// TestAnAlertWrittenReadyRoutesAnEventPostedRightAfter: an Alert written
// Ready by its create is answered only once the server's cache, which
// routes Events, holds it. An Event of a kind that only this Alert takes,
// created right after, is left for the delivery loop to route (and
// delivered), never stored "no Alert matched" by its create. Each such
// create counts one wait in notification_write_cache_await_seconds; a dry
// run waits for nothing.
func TestAnAlertWrittenReadyRoutesAnEventPostedRightAfter(t *testing.T) {
	ns := "alert-ready-routes"
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), &v1beta2.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		Spec:       v1beta2.ProviderSpec{Type: "generic", Address: srv.URL},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(clientConfig)
	if err != nil {
		t.Fatal(err)
	}
	awaited := func() float64 {
		t.Helper()
		return metricSum(t, hc, "notification_write_cache_await_seconds_count", `resource="alerts"`)
	}
	alerts := client.NotificationV1beta2().Alerts(ns)
	alertOf := func(kind string) *v1beta2.Alert {
		return &v1beta2.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: strings.ToLower(kind)},
			Spec: v1beta2.AlertSpec{
				ProviderRef:  v1beta2.LocalObjectReference{Name: "hook"},
				EventSources: []v1beta2.CrossNamespaceObjectReference{{Kind: kind, Name: "*"}},
			}}
	}
	ready := func(a *v1beta2.Alert) bool {
		return a.Status.ObservedGeneration == a.Generation && meta.IsStatusConditionTrue(a.Status.Conditions, "Ready")
	}
	// Until the server's cache holds the Provider, Alerts are written
	// Reconciling, for the reconciler.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_ = alerts.Delete(ctx, "bucket", metav1.DeleteOptions{})
		a, err := alerts.Create(ctx, alertOf("Bucket"), metav1.CreateOptions{})
		return err == nil && ready(a), nil
	})
	if err != nil {
		t.Fatalf("an Alert of the Provider was never written Ready: %v", err)
	}

	events := client.NotificationV1beta2().Events(ns)
	var last string
	for _, kind := range []string{"GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "HelmRelease",
		"Kustomization", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation"} {
		before := awaited()
		dry, err := alerts.Create(t.Context(), alertOf(kind), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if !ready(dry) {
			t.Errorf("the dry run of the %s Alert answered %+v, want Ready", kind, dry.Status)
		}
		if got := awaited(); got != before {
			t.Errorf("a dry run waited for the cache: %v waits, want %v", got, before)
		}
		a, err := alerts.Create(t.Context(), alertOf(kind), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !ready(a) {
			t.Fatalf("the %s Alert was written %+v, want Ready", kind, a.Status)
		}
		if got := awaited(); got != before+1 {
			t.Errorf("the create of the %s Alert counted %v waits, want 1", kind, got-before)
		}
		e := newEvent(ns, "right after its Alert: "+kind)
		e.InvolvedObject.Kind = kind
		created, err := events.Create(t.Context(), e, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if created.Status.RoutedAt != nil {
			t.Errorf("an Event of %s, created right after its Alert was answered Ready, was stored routed: %+v", kind, created.Status)
		}
		last = created.Name
	}
	if d := waitDelivery(t, ns, last, "Delivered"); d.Alert != "imageupdateautomation" {
		t.Errorf("the last Event was delivered through Alert %q", d.Alert)
	}
}
