package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/fake"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
)

// TestRetriesBackOffExponentiallyUpToTheCap drives the dispatcher with a
// clock the test controls: each retry waits twice as long as the one
// before, up to MaxBackoff, and never comes early.
func TestRetriesBackOffExponentiallyUpToTheCap(t *testing.T) {
	var requests atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sink.Close()

	ev := event("error", "failing")
	ev.Name = "e"
	client := fake.NewClientset(
		&v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"},
			Spec: v1beta2.ProviderSpec{Type: "generic", Address: sink.URL}},
		alert(nil),
		ev,
	)
	kube := kubefake.NewClientset()
	nf := informers.NewSharedInformerFactory(client, 0)
	kf := kubeinformers.NewSharedInformerFactory(kube, 0)
	clock := clocktesting.NewFakeClock(time.Now())
	d, err := New(client, nf, kf, Options{Workers: 1, MinBackoff: time.Second, MaxBackoff: 4 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	nf.Start(ctx.Done())
	kf.Start(ctx.Done())
	go func() { defer close(done); _ = d.Run(ctx) }()

	waitRequests := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for requests.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d requests, want %d", requests.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	noMore := func(n int32) {
		t.Helper()
		time.Sleep(200 * time.Millisecond)
		if got := requests.Load(); got != n {
			t.Fatalf("%d requests, want still %d", got, n)
		}
	}

	waitRequests(1) // at once
	// Wait until the retry is scheduled on the fake clock, then step it.
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		n := requests.Load()
		waitRecorded(t, client, n)
		clock.Step(wait - 100*time.Millisecond)
		noMore(n)
		clock.Step(100 * time.Millisecond)
		waitRequests(n + 1)
	}

	got, err := client.NotificationV1beta2().Events("apps").Get(context.Background(), "e", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Deliveries) != 1 || got.Status.Deliveries[0].State != Pending || got.Status.Deliveries[0].Attempts < 4 {
		t.Errorf("status %+v, want one pending delivery with its attempts counted", got.Status)
	}
}

// waitRecorded waits until the Event's status counts n attempts: the
// retry is scheduled right after that write.
func waitRecorded(t *testing.T, client *fake.Clientset, n int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := client.NotificationV1beta2().Events("apps").Get(context.Background(), "e", metav1.GetOptions{})
		if err == nil && len(e.Status.Deliveries) == 1 && e.Status.Deliveries[0].Attempts == n {
			time.Sleep(50 * time.Millisecond)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempt %d never recorded", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTheAddressPolicyHoldsAtDelivery: a Provider admitted before the
// policy (or whose name now resolves inside) is not posted to.
func TestTheAddressPolicyHoldsAtDelivery(t *testing.T) {
	var requests atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer sink.Close()
	ev := event("error", "to loopback")
	ev.Name = "e"
	client := fake.NewClientset(
		&v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"},
			Spec: v1beta2.ProviderSpec{Type: "generic", Address: sink.URL}},
		alert(nil),
		ev,
	)
	d, ctx := syncedDispatcher(t, client, Options{Workers: 1, AddressPolicy: address.Policy{DenyInternal: true}})
	if _, err := d.Process(ctx, "apps/e"); err != nil {
		t.Fatal(err)
	}
	got, err := client.NotificationV1beta2().Events("apps").Get(ctx, "e", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Deliveries) != 1 || got.Status.Deliveries[0].State != Failed || !strings.Contains(got.Status.Deliveries[0].Message, "address policy refuses internal address 127.0.0.1") {
		t.Errorf("status %+v", got.Status)
	}
	if requests.Load() != 0 {
		t.Errorf("the sink got %d requests", requests.Load())
	}
}

// TestRunReturnsWhenLeadershipEndsAndRunsAgain: losing the Lease cancels
// Run's context; every worker must stop, so that Run returns, and a later
// Run (the Lease won back) delivers again with the same queue.
func TestRunReturnsWhenLeadershipEndsAndRunsAgain(t *testing.T) {
	var requests atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer sink.Close()
	client := fake.NewClientset(
		&v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"},
			Spec: v1beta2.ProviderSpec{Type: "generic", Address: sink.URL}},
		alert(nil),
	)
	nf := informers.NewSharedInformerFactory(client, 0)
	kf := kubeinformers.NewSharedInformerFactory(kubefake.NewClientset(), 0)
	d, err := New(client, nf, kf, Options{Workers: 16})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	nf.Start(ctx.Done())
	kf.Start(ctx.Done())

	for term := 1; term <= 3; term++ {
		leading, lose := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(leading) }()
		ev := event("error", "term "+strconv.Itoa(term))
		ev.Name = "e" + strconv.Itoa(term)
		if _, err := client.NotificationV1beta2().Events("apps").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for requests.Load() < int32(term) {
			if time.Now().After(deadline) {
				t.Fatalf("term %d: %d deliveries, want %d", term, requests.Load(), term)
			}
			time.Sleep(10 * time.Millisecond)
		}
		lose()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("term %d: Run did not return within 30s of losing the Lease", term)
		}
	}
}

// A follower counts the pending Events (for --max-pending-events) and
// delivers none; once it leads, it delivers them.
func TestAFollowerCountsPendingEventsAndDeliversOnlyWhenLeading(t *testing.T) {
	sink, requests := countingSink(t)
	client := fake.NewClientset(routedEvents(sink.URL, 3, "error")...)
	d, ctx := newDispatcher(t, client, Options{Workers: 1})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cache.WaitForCacheSync(ctx.Done(), d.eventsSynced)
	if n := d.Pending(); n != 3 {
		t.Errorf("a follower counts %d pending Events, want 3", n)
	}
	time.Sleep(200 * time.Millisecond)
	if n := requests.Load(); n != 0 || d.queue.Len() != 0 {
		t.Errorf("a follower delivered %d, queued %d", n, d.queue.Len())
	}
	runDispatcher(t, ctx, d)
	waitCount(t, requests, 3, "deliveries by the leader")
}

// TestWhileStatusWritesHangWorkersDeliverNoMore: workers do not wait for
// their status write, but at most Workers Events are delivered and not yet
// recorded. With the writes hanging (etcd down) nothing more is delivered:
// those are all that a crash could make deliver twice.
func TestWhileStatusWritesHangWorkersDeliverNoMore(t *testing.T) {
	sink, delivered := countingSink(t)
	client := fake.NewClientset(routedEvents(sink.URL, 10, "info")...)
	var writing atomic.Int32
	writeStatus := func(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error) {
		writing.Add(1)
		<-ctx.Done() // etcd does not answer
		return nil, ctx.Err()
	}
	d, ctx := newDispatcher(t, client, Options{Workers: 2, WriteStatus: writeStatus})
	runDispatcher(t, ctx, d)

	waitCount(t, &writing, 2, "status writes started")
	// Unbounded, the two workers would deliver the other eight within
	// milliseconds of the first two.
	time.Sleep(300 * time.Millisecond)
	if n := delivered.Load(); n != 2 {
		t.Errorf("%d events delivered while the status writes hang, want 2 (one per worker)", n)
	}
	if n := writing.Load(); n != 2 {
		t.Errorf("%d status writes under way, want 2", n)
	}
}

// TestAFailedStatusWriteIsRetriedWithoutDeliveringAgain: the outcomes of a
// delivery whose status write failed are kept; the retry writes them
// again instead of delivering the event a second time.
func TestAFailedStatusWriteIsRetriedWithoutDeliveringAgain(t *testing.T) {
	sink, delivered := countingSink(t)
	objects := routedEvents(sink.URL, 1, "info")
	objects[2].(*v1beta2.Event).ResourceVersion = "7"
	client := fake.NewClientset(objects...)
	var writes atomic.Int32
	stored := make(chan *v1beta2.Event, 1)
	writeStatus := func(_ context.Context, e *v1beta2.Event) (*v1beta2.Event, error) {
		if writes.Add(1) == 1 {
			return nil, fmt.Errorf("etcd does not answer")
		}
		out := e.DeepCopy()
		out.ResourceVersion = "8"
		stored <- out
		return out, nil
	}
	d, ctx := newDispatcher(t, client, Options{Workers: 1, WriteStatus: writeStatus, MinBackoff: 10 * time.Millisecond})
	runDispatcher(t, ctx, d)

	var written *v1beta2.Event
	select {
	case written = <-stored:
	case <-time.After(30 * time.Second):
		t.Fatalf("the status was never stored (%d writes)", writes.Load())
	}
	if n := delivered.Load(); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
	if len(written.Status.Deliveries) != 1 || written.Status.Deliveries[0].State != Delivered || written.Status.Deliveries[0].Attempts != 1 {
		t.Errorf("stored deliveries %+v, want one Delivered at the first attempt", written.Status.Deliveries)
	}
}

// countingSink is a receiver that counts the posts it gets.
func countingSink(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var posts atomic.Int32
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posts.Add(1) }))
	t.Cleanup(sink.Close)
	return sink, &posts
}

// routedEvents are the Provider p posting to url, the Alert a that routes
// to it, and n pending Events e0, e1, ... of the given severity.
func routedEvents(url string, n int, severity string) []runtime.Object {
	objects := []runtime.Object{
		&v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"},
			Spec: v1beta2.ProviderSpec{Type: "generic", Address: url}},
		alert(nil),
	}
	for i := range n {
		ev := event(severity, fmt.Sprintf("pending %d", i))
		ev.Name = fmt.Sprintf("e%d", i)
		objects = append(objects, ev)
	}
	return objects
}

// newDispatcher builds a dispatcher over client with informer factories
// started for the test's life.
func newDispatcher(t *testing.T, client *fake.Clientset, opts Options) (*Dispatcher, context.Context) {
	t.Helper()
	nf := informers.NewSharedInformerFactory(client, 0)
	kf := kubeinformers.NewSharedInformerFactory(kubefake.NewClientset(), 0)
	d, err := New(client, nf, kf, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	nf.Start(ctx.Done())
	kf.Start(ctx.Done())
	return d, ctx
}

// syncedDispatcher is newDispatcher with its caches synced and its watch
// of pending Events started, for tests that call Process themselves.
func syncedDispatcher(t *testing.T, client *fake.Clientset, opts Options) (*Dispatcher, context.Context) {
	t.Helper()
	d, ctx := newDispatcher(t, client, opts)
	cache.WaitForCacheSync(ctx.Done(), d.synced...)
	synced, err := d.watchPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cache.WaitForCacheSync(ctx.Done(), synced)
	return d, ctx
}

// runDispatcher runs d until the test ends.
func runDispatcher(t *testing.T, ctx context.Context, d *Dispatcher) {
	leading, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(leading) }()
	t.Cleanup(func() { stop(); <-done })
}

// waitCount waits until n reaches want.
func waitCount(t *testing.T, n *atomic.Int32, want int32, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s, want %d", n.Load(), what, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestASlowReceiverHoldsBackNoOtherDeliveryOfTheEvent: an Event routed to
// two Providers is posted to both at once. Each receiver answers only once
// the other has the event too (or after 5 s): delivered one after the
// other, the first would wait out the 5 s without the second.
func TestASlowReceiverHoldsBackNoOtherDeliveryOfTheEvent(t *testing.T) {
	var arrived atomic.Int32
	both := make(chan struct{})
	var answered, sawBoth atomic.Int32
	receiver := func(w http.ResponseWriter, _ *http.Request) {
		if arrived.Add(1) == 2 {
			close(both)
		}
		select {
		case <-both:
			sawBoth.Add(1)
		case <-time.After(5 * time.Second):
		}
		answered.Add(1)
	}
	var objects []runtime.Object
	for _, name := range []string{"first", "second"} {
		sink := httptest.NewServer(http.HandlerFunc(receiver))
		t.Cleanup(sink.Close)
		objects = append(objects,
			&v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
				Spec: v1beta2.ProviderSpec{Type: "generic", Address: sink.URL}},
			alert(func(a *v1beta2.Alert) { a.Name, a.Spec.ProviderRef.Name = name, name }))
	}
	ev := event("error", "to two receivers")
	objects = append(objects, ev)
	client := fake.NewClientset(objects...)
	d, ctx := newDispatcher(t, client, Options{Workers: 1})
	runDispatcher(t, ctx, d)

	waitCount(t, &answered, 2, "answers")
	if got := sawBoth.Load(); got != 2 {
		t.Fatalf("%d of the 2 receivers had the event while the other did, want both", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := client.NotificationV1beta2().Events("apps").Get(ctx, ev.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		delivered := 0
		for _, dl := range got.Status.Deliveries {
			if dl.State == Delivered && dl.Attempts == 1 {
				delivered++
			}
		}
		if delivered == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want both delivered at the first attempt", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAProviderNotYetInTheCacheIsWaitedFor: a Provider is written Ready by
// its create, so an Alert can route to it before the delivery loop's cache
// has it. Such a delivery stays pending, says so, and is made once the
// Provider is there: delayed, not lost.
func TestAProviderNotYetInTheCacheIsWaitedFor(t *testing.T) {
	sink, requests := countingSink(t)
	ev := event("info", "before its Provider")
	ev.Name = "e"
	client := fake.NewClientset(alert(nil), ev)
	d, ctx := syncedDispatcher(t, client, Options{Workers: 1})

	pending, err := d.Process(ctx, "apps/e")
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.NotificationV1beta2().Events("apps").Get(ctx, "e", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !pending || len(got.Status.Deliveries) != 1 || got.Status.Deliveries[0].State != Pending ||
		got.Status.Deliveries[0].Message != "Provider apps/p not found" {
		t.Fatalf("pending %v, status %+v: want the delivery pending on its Provider", pending, got.Status)
	}
	if requests.Load() != 0 {
		t.Fatalf("the sink got %d requests before the Provider existed", requests.Load())
	}

	if _, err := client.NotificationV1beta2().Providers("apps").Create(ctx, &v1beta2.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"},
		Spec:       v1beta2.ProviderSpec{Type: "generic", Address: sink.URL},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := d.providers.Providers("apps").Get("p"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Provider never reached the dispatcher's cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if pending, err = d.Process(ctx, "apps/e"); err != nil {
		t.Fatal(err)
	}
	if got, err = client.NotificationV1beta2().Events("apps").Get(ctx, "e", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if pending || len(got.Status.Deliveries) != 1 || got.Status.Deliveries[0].State != Delivered || requests.Load() != 1 {
		t.Errorf("pending %v, status %+v, %d requests: want it delivered once", pending, got.Status, requests.Load())
	}
}
