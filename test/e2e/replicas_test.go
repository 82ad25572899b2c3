package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

// These tests run notification-apiserver processes of their own on an
// etcd of their own (external etcd mode), beside the suite's server,
// talking to them directly rather than through the aggregator; the
// harness is in replicas_harness_test.go and countingsink_test.go.
// SOAK=1 makes them longer.

// leaseNamespace is where the servers keep their Lease (no $POD_NAMESPACE).
const leaseNamespace = "notification-system"

func TestEtcdStopAndStartLosesNoAcceptedEvent(t *testing.T) {
	ns := "e2e-etcd-outage"
	createNamespace(t, ns)
	events, outage := 40, 6*time.Second
	if soaking() {
		events, outage = 400, 30*time.Second
	}
	const workers = 2
	etcd := startExternalEtcd(t)
	server := startDirectServer(t, "etcd-outage", etcd.clientURL,
		"--leader-elect-lease-name=e2e-etcd-outage", fmt.Sprintf("--delivery-workers=%d", workers),
		"--delivery-min-backoff=200ms", "--delivery-max-backoff=2s")
	deleteLeaseAfter(t, "e2e-etcd-outage")
	// 50ms per delivery with 2 workers: etcd stops with most events waiting.
	sink := startCountingSink(t, 50*time.Millisecond)
	routeToCountingSink(t, server.client, ns, sink.url())

	var accepted []string
	create := func(phase string, n int) {
		for i := range n {
			msg := fmt.Sprintf("%s event %d", phase, i)
			if err := createReplicaEvent(t.Context(), server.client, ns, msg); err != nil {
				t.Fatalf("creating %q with etcd up: %v", msg, err)
			}
			accepted = append(accepted, msg)
		}
	}
	create("before", events)
	// Stop etcd with deliveries under way: some posted with their status
	// not yet written, most not yet attempted.
	waitUntil(t, 30*time.Second, "a first delivery", func() bool { return sink.total() > 0 })
	etcd.stop(t)
	t.Logf("etcd stopped with %d of %d events delivered", sink.distinct(), len(accepted))

	// While etcd is down, every call fails with a 5xx in bounded time and
	// the server lives on. The calls ask the server to give up after 2s
	// (?timeout=2s); SOAK=1 also waits for its defaults: 34s for writes,
	// the 60s request timeout for reads.
	codes := map[string]int{}
	refused := 0
	probe := func(timeout string) {
		rc := server.client.NotificationV1beta2().RESTClient()
		bounded := func(r *rest.Request) *rest.Request {
			if timeout != "" {
				r = r.Param("timeout", timeout)
			}
			return r
		}
		refused++
		msg := fmt.Sprintf("during-outage event %d", refused)
		calls := map[string]func(ctx context.Context) error{
			"create event": func(ctx context.Context) error {
				return bounded(rc.Post().Namespace(ns).Resource("events")).Body(newEvent(ns, msg)).Do(ctx).Error()
			},
			"get provider": func(ctx context.Context) error {
				return bounded(rc.Get().Namespace(ns).Resource("providers").Name("sink")).Do(ctx).Error()
			},
			"list events": func(ctx context.Context) error {
				return bounded(rc.Get().Namespace(ns).Resource("events")).Do(ctx).Error()
			},
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for what, call := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
				defer cancel()
				start := time.Now()
				err := call(ctx)
				took := time.Since(start).Round(time.Millisecond)
				mu.Lock()
				defer mu.Unlock()
				var status apierrors.APIStatus
				switch {
				case err == nil:
					t.Errorf("%s succeeded with etcd down", what)
				case timeout != "" && took > 30*time.Second:
					t.Errorf("%s with etcd down answered after %s, long past its %s timeout: %v", what, took, timeout, err)
				case errors.As(err, &status) && status.Status().Code >= 500:
					code := status.Status().Code
					codes[fmt.Sprintf("%s: %d %s", what, code, status.Status().Reason)]++
					t.Logf("etcd down, timeout %q: %s answered %d %s after %s: %s", timeout, what, code, status.Status().Reason,
						took, status.Status().Message)
				default:
					t.Errorf("%s with etcd down: %v after %s, want a 5xx status", what, err, took)
				}
			}()
		}
		wg.Wait()
		if !server.alive() {
			t.Fatalf("the server exited while etcd was down; see %s", server.log)
		}
	}
	for start := time.Now(); time.Since(start) < outage; {
		probe("2s")
	}
	if soaking() {
		probe("")
	}
	t.Logf("etcd down: status codes %v", codes)

	etcd.start(t)
	restarted := time.Now()
	waitUntil(t, 90*time.Second, "the API to serve again after etcd came back", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := server.client.NotificationV1beta2().Events(ns).List(ctx, metav1.ListOptions{})
		return err == nil
	})
	t.Logf("the API served again %s after etcd restarted", time.Since(restarted).Round(time.Millisecond))
	create("after", events)

	sink.waitForAll(t, accepted, 120*time.Second)
	waitUntil(t, 60*time.Second, "every Event's status to say Delivered", func() bool {
		return undelivered(t, server.client, ns, accepted) == 0
	})
	if !server.alive() {
		t.Error("the server exited")
	}
	got := sink.counts()
	var late []string
	for msg := range got {
		if strings.HasPrefix(msg, "during-outage") {
			late = append(late, msg) // stored although refused: not lost, but worth seeing
		}
	}
	sort.Strings(late)
	duplicates := sink.total() - sink.distinct()
	t.Logf("accepted %d, delivered %d distinct in %d deliveries (%d duplicates); %d refused during the outage, of which delivered anyway: %v",
		len(accepted), sink.distinct(), sink.total(), duplicates, refused, late)
	// A worker whose status write waits for etcd delivers nothing more
	// meanwhile: only what was posted when etcd stopped may repeat.
	if duplicates > workers {
		t.Errorf("%d duplicates; at most the %d deliveries in flight when etcd stopped may repeat", duplicates, workers)
	}
}

func TestTwoReplicasLeaderKilledLosesNoAcceptedEvent(t *testing.T) {
	ns := "e2e-replicas"
	createNamespace(t, ns)
	const lease, leaseDuration, workers = "e2e-replicas", 4 * time.Second, 4
	events := 100
	if soaking() {
		events = 1000
	}
	etcd := startExternalEtcd(t)
	flags := []string{
		"--leader-elect-lease-name=" + lease, "--leader-elect-lease-duration=" + leaseDuration.String(),
		"--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s",
		fmt.Sprintf("--delivery-workers=%d", workers), "--delivery-min-backoff=200ms", "--delivery-max-backoff=2s",
	}
	deleteLeaseAfter(t, lease)
	replicas := []*directServer{
		startDirectServer(t, "replica-a", etcd.clientURL, flags...),
		startDirectServer(t, "replica-b", etcd.clientURL, flags...),
	}
	kube := kubernetes.NewForConfigOrDie(restConfig)
	holder := func() string {
		l, err := kube.CoordinationV1().Leases(leaseNamespace).Get(t.Context(), lease, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	var leader, follower *directServer
	waitUntil(t, 60*time.Second, "a replica to hold the Lease", func() bool {
		for i, r := range replicas {
			if h := holder(); h != "" && h == r.identity(t) {
				leader, follower = r, replicas[1-i]
				return true
			}
		}
		return false
	})
	t.Logf("%s (pid %d) leads as %s", leader.name, leader.pid, leader.identity(t))

	// The sink tells the replicas apart by the process that holds the
	// other end of each connection. At 100ms a request, 4 workers deliver
	// 40 events/s, fewer than are created: the leader dies with
	// deliveries in flight and more waiting.
	sink := startCountingSink(t, 100*time.Millisecond)
	sink.knowSenders(replicas)
	routeToCountingSink(t, follower.client, ns, sink.url())

	// A stream of events, created through the follower, which lives on.
	var accepted []string
	var acceptedN atomic.Int64
	var mu sync.Mutex
	posted := make(chan error, 1)
	go func() {
		for i := range events {
			msg := fmt.Sprintf("stream event %d", i)
			if err := createReplicaEvent(t.Context(), follower.client, ns, msg); err != nil {
				posted <- fmt.Errorf("creating %q through %s: %w", msg, follower.name, err)
				return
			}
			mu.Lock()
			accepted = append(accepted, msg)
			mu.Unlock()
			acceptedN.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
		posted <- nil
	}()
	waitUntil(t, 60*time.Second, "half the events accepted and some delivered", func() bool {
		return acceptedN.Load() >= int64(events/2) && sink.total() > 0
	})
	// While the leader lives, the follower has delivered nothing.
	leaderDelivered, followerDelivered := leader.delivered(t), follower.delivered(t)
	if followerDelivered != 0 || leaderDelivered == 0 {
		t.Errorf("before the kill: the leader counts %v deliveries, the follower %v; want some and none", leaderDelivered, followerDelivered)
	}
	t.Logf("before the kill, /metrics: %s delivered %v, %s %v", leader.name, leaderDelivered, follower.name, followerDelivered)
	killed := time.Now()
	leader.kill(t)
	t.Logf("killed %s with SIGKILL after %d accepted and %d deliveries", leader.name, acceptedN.Load(), sink.total())

	ownIdentity := follower.identity(t)
	waitUntil(t, 3*leaseDuration, "the follower to take the Lease (3 lease durations)", func() bool {
		return holder() == ownIdentity
	})
	takeover := time.Since(killed)
	if err := <-posted; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	sink.waitForAll(t, accepted, 120*time.Second)

	// Never both at once: the follower's first request reached the sink
	// after the leader was killed. (The leader's last requests may be read
	// after its death: it sent them before.)
	var byLeader, byFollower, unknown int
	var firstAfter time.Time
	for _, d := range sink.deliveries() {
		switch d.sender {
		case nil:
			unknown++
		case leader:
			byLeader++
		default:
			byFollower++
			if firstAfter.IsZero() {
				firstAfter = d.at
			}
			if d.at.Before(killed) {
				t.Errorf("%s delivered %q at %s, before the leader was killed", follower.name, d.message, d.at.Format(time.StampMilli))
			}
		}
	}
	if unknown > 0 {
		t.Errorf("%d deliveries came from neither replica's process", unknown)
	}
	duplicates := sink.total() - sink.distinct()
	if duplicates > workers {
		t.Errorf("%d duplicates; at most the %d deliveries in flight in the killed leader may repeat", duplicates, workers)
	}
	for msg, n := range sink.counts() {
		if n > 1 {
			t.Logf("delivered %d times: %q", n, msg)
		}
	}
	t.Logf("accepted %d, delivered %d distinct in %d deliveries (%d duplicates): %d by %s, %d by %s (none before the kill)",
		len(accepted), sink.distinct(), sink.total(), duplicates, byLeader, leader.name, byFollower, follower.name)
	t.Logf("takeover: the Lease changed hands %s after the kill, the first delivery by the new leader came %s after it",
		takeover.Round(time.Millisecond), firstAfter.Sub(killed).Round(time.Millisecond))
	if undelivered(t, follower.client, ns, accepted) != 0 {
		waitUntil(t, 60*time.Second, "every Event's status to say Delivered", func() bool {
			return undelivered(t, follower.client, ns, accepted) == 0
		})
	}
}

// routeToCountingSink creates a generic Provider posting to url and an Alert taking
// every Kustomization event, and waits until the server has seen both.
func routeToCountingSink(t *testing.T, c versioned.Interface, ns, url string) {
	t.Helper()
	ctx := t.Context()
	_, err := c.NotificationV1beta2().Providers(ns).Create(ctx, &v1beta2.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "sink", Namespace: ns},
		Spec:       v1beta2.ProviderSpec{Type: "generic", Address: url},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.NotificationV1beta2().Alerts(ns).Create(ctx, &v1beta2.Alert{
		ObjectMeta: metav1.ObjectMeta{Name: "all", Namespace: ns},
		Spec: v1beta2.AlertSpec{
			ProviderRef:  v1beta2.LocalObjectReference{Name: "sink"},
			EventSources: []v1beta2.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Routing takes the Alerts the leader has seen when an event comes:
	// Ready says its reconciler, which shares the informers, saw this one.
	waitUntil(t, 60*time.Second, "the Alert to be Ready", func() bool {
		a, err := c.NotificationV1beta2().Alerts(ns).Get(ctx, "all", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, cond := range a.Status.Conditions {
			if cond.Type == "Ready" && cond.Status == metav1.ConditionTrue {
				return true
			}
		}
		return false
	})
}

var eventSeq atomic.Int64

// createReplicaEvent creates an Event with the message, which the sink counts by.
func createReplicaEvent(ctx context.Context, c versioned.Interface, ns, message string) error {
	_, err := c.NotificationV1beta2().Events(ns).Create(ctx, newEvent(ns, message), metav1.CreateOptions{})
	return err
}

// newEvent is an Event of a Kustomization with a name of its own.
func newEvent(ns, message string) *v1beta2.Event {
	return &v1beta2.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("event-%d-%d", time.Now().UnixNano(), eventSeq.Add(1)), Namespace: ns},
		InvolvedObject: v1beta2.ObjectReference{
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "apps", Namespace: ns,
		},
		Severity:            "info",
		Timestamp:           metav1.Now(),
		Reason:              "ReconciliationSucceeded",
		Message:             message,
		ReportingController: "kustomize-controller",
	}
}

// undelivered counts the accepted events whose status does not say
// Delivered yet.
func undelivered(t *testing.T, c versioned.Interface, ns string, accepted []string) int {
	t.Helper()
	list, err := c.NotificationV1beta2().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		return len(accepted)
	}
	delivered := map[string]bool{}
	for _, e := range list.Items {
		if len(e.Status.Deliveries) == 1 && e.Status.Deliveries[0].State == "Delivered" {
			delivered[e.Message] = true
		}
	}
	n := 0
	for _, msg := range accepted {
		if !delivered[msg] {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, timeout time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
