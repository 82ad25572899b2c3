package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// webhookReceiver is a webhook receiver that fails the first failures requests.
type webhookReceiver struct {
	mu       sync.Mutex
	bodies   []string
	headers  []http.Header
	failures int
	status   int // answered while failing
}

func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, string(body))
	r.headers = append(r.headers, req.Header.Clone())
	if len(r.bodies) <= r.failures {
		w.WriteHeader(r.status)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *webhookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func setupRoute(t *testing.T, ns, address string, mutate func(*v1beta2.Provider)) {
	t.Helper()
	p := &v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
		Spec: v1beta2.ProviderSpec{Type: "generic", Address: address}}
	if mutate != nil {
		mutate(p)
	}
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := &v1beta2.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "all"},
		Spec: v1beta2.AlertSpec{
			Summary:      "cluster one",
			ProviderRef:  v1beta2.LocalObjectReference{Name: "hook"},
			EventSources: []v1beta2.CrossNamespaceObjectReference{{Kind: "HelmRelease", Name: "*"}},
		}}
	if _, err := client.NotificationV1beta2().Alerts(ns).Create(t.Context(), a, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Routing takes the Alerts in the server's cache when an Event comes:
	// wait until the reconciler (same cache) has seen this one.
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.NotificationV1beta2().Alerts(ns).Get(ctx, "all", metav1.GetOptions{})
		return err == nil && got.Status.ObservedGeneration == got.Generation, err
	})
	if err != nil {
		t.Fatalf("the Alert was never reconciled: %v", err)
	}
}

// waitDelivery waits until the Event's first delivery is in state.
func waitDelivery(t *testing.T, ns, name, state string) v1beta2.Delivery {
	t.Helper()
	var last *v1beta2.Event
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		e, err := client.NotificationV1beta2().Events(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = e
		return len(e.Status.Deliveries) == 1 && e.Status.Deliveries[0].State == state, nil
	})
	if err != nil {
		t.Fatalf("the delivery never became %s: %+v", state, last.Status)
	}
	return last.Status.Deliveries[0]
}

func TestAnEventIsDeliveredOnce(t *testing.T) {
	ns := "deliver-once"
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL+"/flux", nil)

	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "upgrade failed"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, ns, created.Name, "Delivered")
	if d.Alert != "all" || d.Provider != "hook" || d.Attempts != 1 || d.LastAttemptTime == nil {
		t.Errorf("delivery %+v", d)
	}
	if _, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "upgrade failed"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("the repeat: %v, want AlreadyExists", err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := rcv.count(); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(rcv.bodies[0]), &body); err != nil {
		t.Fatal(err)
	}
	md, _ := body["metadata"].(map[string]any)
	if body["message"] != "upgrade failed" || body["reason"] != "UpgradeFailed" || md["summary"] != "cluster one" || md["revision"] != "6.5.0" {
		t.Errorf("body %s", rcv.bodies[0])
	}
	if rcv.headers[0].Get("Gotk-Component") != "helm-controller" {
		t.Errorf("Gotk-Component %q", rcv.headers[0].Get("Gotk-Component"))
	}
}

func TestFailuresAreRetriedUntilDelivered(t *testing.T) {
	ns := "deliver-retry"
	rcv := &webhookReceiver{failures: 3, status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL, nil)
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "flaky"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, ns, created.Name, "Delivered")
	if d.Attempts != 4 || rcv.count() != 4 {
		t.Errorf("attempts %d, requests %d; want 4 and 4", d.Attempts, rcv.count())
	}
}

func TestAPermanentFailureIsNotRetried(t *testing.T) {
	ns := "deliver-permanent"
	rcv := &webhookReceiver{failures: 100, status: http.StatusBadRequest}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL, nil)
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "refused"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, ns, created.Name, "Failed")
	if d.Attempts != 1 || !strings.Contains(d.Message, "400") {
		t.Errorf("delivery %+v", d)
	}
	time.Sleep(500 * time.Millisecond)
	if rcv.count() != 1 {
		t.Errorf("a 400 was retried: %d requests", rcv.count())
	}
}

func TestSuspendedProvidersAreSkippedAndUnmatchedEventsSaySo(t *testing.T) {
	ns := "deliver-skip"
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL, func(p *v1beta2.Provider) { p.Spec.Suspend = true })
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "skipped"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, ns, created.Name, "Skipped")
	if !strings.Contains(d.Message, "suspended") || rcv.count() != 0 {
		t.Errorf("delivery %+v, %d requests", d, rcv.count())
	}

	other := newEvent(ns, "nobody listens")
	other.InvolvedObject.Kind = "GitRepository"
	other.InvolvedObject.APIVersion = "source.toolkit.fluxcd.io/v1"
	created, err = client.NotificationV1beta2().Events(ns).Create(t.Context(), other, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		e, err := client.NotificationV1beta2().Events(ns).Get(ctx, created.Name, metav1.GetOptions{})
		return err == nil && e.Status.RoutedAt != nil && e.Status.Message == "no Alert matched" && len(e.Status.Deliveries) == 0, err
	})
	if err != nil {
		t.Errorf("the unmatched event does not say so: %v", err)
	}
}

func TestSlackThroughAStandIn(t *testing.T) {
	ns := "deliver-slack"
	var got struct {
		auth, path string
		body       map[string]any
	}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got.auth, got.path = r.Header.Get("Authorization"), r.URL.Path
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	createSecret(t, ns, "slack-bot-token", map[string]string{"token": "xoxb-integration-token"})
	setupRoute(t, ns, srv.URL+"/api/chat.postMessage", func(p *v1beta2.Provider) {
		p.Spec.Type, p.Spec.Channel = "slack", "general"
		p.Spec.SecretRef = &v1beta2.LocalObjectReference{Name: "slack-bot-token"}
	})
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "slack me"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, ns, created.Name, "Delivered")
	mu.Lock()
	defer mu.Unlock()
	if got.auth != "Bearer xoxb-integration-token" || got.path != "/api/chat.postMessage" || got.body["channel"] != "general" {
		t.Errorf("Slack got auth %q path %q body %v", got.auth, got.path, got.body)
	}
}

func TestDeliveryMetrics(t *testing.T) {
	// The tests above delivered, retried and failed: /metrics says so.
	ns := "deliver-metrics"
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL, nil)
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "measured"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, ns, created.Name, "Delivered")
	raw, err := client.NotificationV1beta2().RESTClient().Get().AbsPath("/metrics").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`notification_deliveries_total{outcome="delivered",type="generic"}`,
		`notification_delivery_duration_seconds_bucket{type="generic",le="0.01"}`,
		`notification_events_routed_total{matched="true"}`,
		`workqueue_depth{name="events"}`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestMatchLabelsSelectByTheObjectsLabels(t *testing.T) {
	ns := "deliver-labels"
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL, nil)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		a, err := client.NotificationV1beta2().Alerts(ns).Get(t.Context(), "all", metav1.GetOptions{})
		if err != nil {
			return err
		}
		a.Spec.EventSources[0].MatchLabels = map[string]string{"tier": "web"}
		_, err = client.NotificationV1beta2().Alerts(ns).Update(t.Context(), a, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.NotificationV1beta2().Alerts(ns).Get(ctx, "all", metav1.GetOptions{})
		return err == nil && got.Generation == 2 && got.Status.ObservedGeneration == 2, err
	})
	if err != nil {
		t.Fatalf("the changed Alert was never reconciled: %v", err)
	}
	labelled := newEvent(ns, "labelled object")
	labelled.InvolvedObject.Name = "labelled"
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), labelled, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, ns, created.Name, "Delivered")

	other, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "other object"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		e, err := client.NotificationV1beta2().Events(ns).Get(ctx, other.Name, metav1.GetOptions{})
		return err == nil && e.Status.RoutedAt != nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := client.NotificationV1beta2().Events(ns).Get(t.Context(), other.Name, metav1.GetOptions{})
	if len(e.Status.Deliveries) != 0 || e.Status.Message != "no Alert matched" || rcv.count() != 1 {
		t.Errorf("an object without the labels was delivered: %+v, %d requests", e.Status, rcv.count())
	}
}

// The delivery loop writes statuses over the version of the Event it read
// (in batches); when a user changed the Event meanwhile, the status goes
// onto the new version: both the label and every attempt are kept.
func TestAStatusWriteAfterAUserChangeKeepsBoth(t *testing.T) {
	ns := "deliver-relabel"
	labelled := make(chan struct{})
	var requests sync.WaitGroup
	requests.Add(1)
	first := sync.Once{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failed := false
		first.Do(func() {
			requests.Done()
			<-labelled // the user labels the Event while the attempt runs
			w.WriteHeader(http.StatusServiceUnavailable)
			failed = true
		})
		if !failed {
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	setupRoute(t, ns, srv.URL, nil)
	events := client.NotificationV1beta2().Events(ns)
	created, err := events.Create(t.Context(), newEvent(ns, "relabelled"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	requests.Wait()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		e, err := events.Get(t.Context(), created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		e.Labels = map[string]string{"triaged": "yes"}
		_, err = events.Update(t.Context(), e, metav1.UpdateOptions{})
		return err
	})
	close(labelled)
	if err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, ns, created.Name, "Delivered")
	if d.Attempts != 2 {
		t.Errorf("attempts %d, want 2 (the failed one recorded over the user's change)", d.Attempts)
	}
	e, err := events.Get(t.Context(), created.Name, metav1.GetOptions{})
	if err != nil || e.Labels["triaged"] != "yes" {
		t.Errorf("labels %v (%v): the status write lost the user's label", e.Labels, err)
	}
}
