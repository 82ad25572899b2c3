package reconcile

import (
	"fmt"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func providersOf(ps ...*v1beta2.Provider) func(namespace, name string) (*v1beta2.Provider, error) {
	return func(namespace, name string) (*v1beta2.Provider, error) {
		for _, p := range ps {
			if p.Namespace == namespace && p.Name == name {
				return p, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: v1beta2.GroupName, Resource: "providers"}, name)
	}
}

func provider(name string, ready, suspended bool) *v1beta2.Provider {
	p := &v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, Generation: 1},
		Spec: v1beta2.ProviderSpec{Type: "generic", Suspend: suspended}}
	if ready {
		conditions.MarkReady(&p.Status.Conditions, 1, "Initialized")
	} else {
		conditions.MarkReconciling(&p.Status.Conditions, 1)
	}
	return p
}

func alertOf(providerName string) *v1beta2.Alert {
	return &v1beta2.Alert{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "a", Generation: 3,
			Annotations: map[string]string{RequestedAtAnnotation: "now"}},
		Spec: v1beta2.AlertSpec{ProviderRef: v1beta2.LocalObjectReference{Name: providerName}},
	}
}

// The storage's check and the reconciler agree: an Alert is written Ready
// only when its Provider is Ready, with the status the reconciler computes.
func TestAlertReadyStatusIsTheReconcilersReadyStatus(t *testing.T) {
	get := providersOf(provider("ready", true, false), provider("pending", false, false), provider("paused", true, true))
	for _, tc := range []struct {
		provider string
		ready    bool
		message  string
	}{
		{"ready", true, "Initialized"},
		{"pending", false, "Provider apps/pending is not ready"},
		{"paused", false, "Provider apps/paused is suspended"},
		{"absent", false, "Provider apps/absent not found"},
	} {
		a := alertOf(tc.provider)
		status, ready, err := checkAlert(a, get)
		if err != nil {
			t.Fatalf("%s: %v", tc.provider, err)
		}
		c := meta.FindStatusCondition(status.Conditions, conditions.Ready)
		if ready != tc.ready || c == nil || c.Message != tc.message || status.ObservedGeneration != 3 ||
			status.LastHandledReconcileAt != "now" {
			t.Errorf("%s: ready %v, status %+v; want ready %v with %q for generation 3", tc.provider, ready, status, tc.ready, tc.message)
		}
		written, ok := AlertReadyStatus(a, get)
		if ok != tc.ready {
			t.Errorf("%s: AlertReadyStatus said %v, want %v", tc.provider, ok, tc.ready)
		}
		if ok && !equalStatus(written.ObservedGeneration, written.LastHandledReconcileAt, written.Conditions,
			status.ObservedGeneration, status.LastHandledReconcileAt, status.Conditions) {
			t.Errorf("%s: the storage would write %+v where the reconciler computes %+v", tc.provider, written, status)
		}
	}
	suspended := alertOf("ready")
	suspended.Spec.Suspend = true
	if _, ok := AlertReadyStatus(suspended, get); ok {
		t.Error("a suspended Alert was found ready to write Ready")
	}
	if _, ok := AlertReadyStatus(alertOf("ready"), func(string, string) (*v1beta2.Provider, error) {
		return nil, apierrors.NewServiceUnavailable("no cache")
	}); ok {
		t.Error("an Alert whose Provider could not be looked up was found ready")
	}
}

// An Alert written Ready is told once per generation, and only when it
// became Ready after the replica began to lead.
func TestAnAlertsBecomingReadyIsToldOncePerGeneration(t *testing.T) {
	started := time.Now()
	var n announcements
	a := alertOf("ready")
	conditions.MarkReady(&a.Status.Conditions, a.Generation, "Initialized")
	meta.FindStatusCondition(a.Status.Conditions, conditions.Ready).LastTransitionTime = metav1.NewTime(started.Add(time.Second))
	if !n.first(a, started) {
		t.Fatal("a new Ready generation was not to be told")
	}
	if n.first(a, started) {
		t.Error("the same generation was to be told twice")
	}
	a.Generation++
	if !n.first(a, started) {
		t.Error("a new generation was not to be told")
	}
	n.forget(a.Namespace, a.Name)
	if !n.first(a, started) {
		t.Error("an Alert made again with the same name and generation was not to be told")
	}
	n.told(a)
	if n.first(a, started) {
		t.Error("a generation the reconciler told itself was to be told again")
	}

	old := alertOf("ready")
	old.Name = "before"
	conditions.MarkReady(&old.Status.Conditions, old.Generation, "Initialized")
	meta.FindStatusCondition(old.Status.Conditions, conditions.Ready).LastTransitionTime = metav1.NewTime(started.Add(-time.Hour))
	if n.first(old, started) {
		t.Error("an Alert Ready since before the replica began to lead was to be told (every Alert after a restart or a change of leader)")
	}
}

// A Run tells the Alerts written Ready since this replica started, or,
// taking over long after, since up to a Lease's duration before.
func TestARunTellsAlertsWrittenReadySinceTheReplicaStartedOrTheHandover(t *testing.T) {
	built := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		now      time.Time
		handover time.Duration
		want     time.Time
	}{
		{"the first Lease, at start", built.Add(2 * time.Second), 15 * time.Second, built},
		{"no leader election", built.Add(time.Second), 0, built.Add(time.Second)},
		{"a takeover an hour after start", built.Add(time.Hour), 15 * time.Second, built.Add(time.Hour - 15*time.Second)},
	} {
		if got := tellSince(tc.now, built, tc.handover); !got.Equal(tc.want) {
			t.Errorf("%s: tells since %s, want %s", tc.name, got, tc.want)
		}
	}
}

// A deleted Alert's announcement is dropped, so that the memory of told
// Alerts follows the Alerts that exist.
func TestADeletedAlertIsForgotten(t *testing.T) {
	c, client, nf, ctx := startController(t)
	a := alertOf("ready")
	if _, err := client.NotificationV1beta2().Alerts("apps").Create(ctx, a, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nf.WaitForCacheSync(ctx.Done())
	c.announced.told(a)
	remembered := func() bool {
		c.announced.mu.Lock()
		defer c.announced.mu.Unlock()
		_, ok := c.announced.gen["apps/a"]
		return ok
	}
	if !remembered() {
		t.Fatal("the told Alert was not remembered")
	}
	if err := client.NotificationV1beta2().Alerts("apps").Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for remembered() {
		if time.Now().After(deadline) {
			t.Fatal("the deleted Alert was still remembered after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A Provider's change reaches the Alerts that route to it, found by index:
// in its namespace only, and following an Alert moved to another Provider.
func TestAProviderFindsItsAlertsByIndex(t *testing.T) {
	c, client, _, ctx := startController(t)
	create := func(namespace, name, provider string) *v1beta2.Alert {
		a := &v1beta2.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Spec: v1beta2.AlertSpec{ProviderRef: v1beta2.LocalObjectReference{Name: provider}}}
		out, err := client.NotificationV1beta2().Alerts(namespace).Create(ctx, a, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	create("apps", "a1", "slack")
	moved := create("apps", "a2", "slack")
	create("apps", "a3", "teams")
	create("other", "a1", "slack")
	waitFor := func(provider string, want ...string) {
		t.Helper()
		var got []string
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			got = c.alertsOfProvider("apps", provider)
			slices.Sort(got)
			if slices.Equal(got, want) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("Alerts of apps/%s: %v, want %v", provider, got, want)
	}
	waitFor("slack", "apps/a1", "apps/a2")
	waitFor("teams", "apps/a3")
	waitFor("none")

	moved.Spec.ProviderRef.Name = "teams"
	if _, err := client.NotificationV1beta2().Alerts("apps").Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("slack", "apps/a1")
	waitFor("teams", "apps/a2", "apps/a3")
}

// A Provider's Alerts among 10,000 of its namespace: what each Provider
// change, and each Provider at start-up, costs the reconciler.
func BenchmarkAlertsOfProviderAmong10000(b *testing.B) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{
		cache.NamespaceIndex: cache.MetaNamespaceIndexFunc, alertsByProvider: alertProviderKey})
	for i := range 10000 {
		a := &v1beta2.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: fmt.Sprintf("a-%05d", i)},
			Spec: v1beta2.AlertSpec{ProviderRef: v1beta2.LocalObjectReference{Name: fmt.Sprintf("p-%05d", i)}}}
		if err := indexer.Add(a); err != nil {
			b.Fatal(err)
		}
	}
	c := &Controller{alertIndex: indexer}
	b.ReportAllocs()
	for b.Loop() {
		if got := c.alertsOfProvider("apps", "p-04242"); len(got) != 1 {
			b.Fatalf("got %v", got)
		}
	}
}
