package event

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/component-base/metrics/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// newBatchStorage is the events storage with eventbatches beside it, on
// the same etcd, as the server wires them.
func newBatchStorage(t *testing.T, clock *clocktesting.FakeClock) (*REST, *BatchREST) {
	t.Helper()
	r, client, opts := newStorageOnEtcd(t, clock)
	w, err := NewWriter(client, opts, r.Store.KeyFunc)
	if err != nil {
		t.Fatal(err)
	}
	r.UseWriter(w)
	return r, NewBatchREST(r, w, nil)
}

// Single creates of Events without a name go through the Writer (its
// transactions count them), concurrent ones together; dry runs and named
// Events through the registry.
func TestSingleCreatesGoThroughTheWriterButDryRunsAndNamedOnes(t *testing.T) {
	r, _ := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	written := func() float64 {
		t.Helper()
		sum, err := testutil.GetHistogramMetricValue(batchItems.WithLabelValues("create"))
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	before := written()
	var wg sync.WaitGroup
	names := make([]string, 8)
	for i := range names {
		wg.Go(func() {
			obj, err := r.Create(ctx, newEvent(fmt.Sprintf("message %d", i)), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			e := obj.(*notification.Event)
			if e.ResourceVersion == "" || e.UID == "" || e.CreationTimestamp.IsZero() {
				t.Errorf("create %d answered %+v, without its resourceVersion, uid or creationTimestamp", i, e.ObjectMeta)
			}
			names[i] = e.Name
		})
	}
	wg.Wait()
	if got := written() - before; got != float64(len(names)) {
		t.Errorf("the Writer's transactions wrote %v Events, want the %d created", got, len(names))
	}
	for _, name := range names {
		if _, err := r.Get(ctx, name, &metav1.GetOptions{}); err != nil {
			t.Errorf("get %s: %v", name, err)
		}
	}

	before = written()
	dry, err := r.Create(ctx, newEvent("dry"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := r.Get(ctx, dry.(*notification.Event).Name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a dry run stored its Event: %v", err)
	}
	named := newEvent("named")
	named.Name = "named"
	if _, err := r.Create(ctx, named, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("named: %v", err)
	}
	if got := written() - before; got != 0 {
		t.Errorf("the Writer wrote %v Events for a dry run and a named Event, want none", got)
	}
}

func createBatch(t *testing.T, b *BatchREST, events ...*notification.Event) ([]notification.EventBatchResult, error) {
	t.Helper()
	batch := &notification.EventBatch{}
	for _, e := range events {
		batch.Items = append(batch.Items, *e)
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	obj, err := b.Create(ctx, batch, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*notification.EventBatch).Results, nil
}

// The same windows as a create alone (see
// TestTheSameEventIsRefusedWithinTheWindowAndAcceptedAfter), in batches,
// mixed with single creates.
func TestABatchDeduplicatesAcrossWindowsAsACreateAlone(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Now())
	r, b := newBatchStorage(t, clock)

	first, err := createBatch(t, b, newEvent("validation error"))
	if err != nil || first[0].Code != http.StatusCreated {
		t.Fatalf("first: %+v %v", first, err)
	}
	clock.Step(30 * time.Second)
	if _, err := create(t, r, newEvent("validation error")); !apierrors.IsAlreadyExists(err) {
		t.Errorf("a single create of a batch's event in its window: %v, want AlreadyExists", err)
	}
	clock.Step(2 * time.Minute) // 2m30s after the first
	got, err := createBatch(t, b, newEvent("validation error"), newEvent("another error"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Code != http.StatusConflict || got[0].Reason != string(metav1.StatusReasonAlreadyExists) {
		t.Errorf("a repeat within 5m (perhaps across a window boundary): %+v, want 409 AlreadyExists", got[0])
	}
	if got[1].Code != http.StatusCreated {
		t.Errorf("a different message: %+v, want 201", got[1])
	}
	clock.Step(3 * time.Minute) // 5m30s after the first
	again, err := createBatch(t, b, newEvent("validation error"))
	if err != nil || again[0].Code != http.StatusCreated || again[0].Name == first[0].Name {
		t.Fatalf("the same event after the window: %+v %v, want created under a new name", again, err)
	}
	stored, err := r.Get(genericapirequest.WithNamespace(context.Background(), "apps"), again[0].Name, &metav1.GetOptions{})
	if err != nil || stored.(*notification.Event).EventMetadata["kustomize.toolkit.fluxcd.io/checksum"] != "" {
		t.Errorf("stored %+v (%v): metadata not cleaned as a create alone cleans it", stored, err)
	}
}

func TestABatchTakesOnlyWhatTheBacklogHasRoomFor(t *testing.T) {
	r, b := newBatchStorage(t, clocktesting.NewFakeClock(time.Now()))
	pending := 2
	r.opts.MaxPending, r.opts.Pending = 2, func() int { return pending }
	_, err := createBatch(t, b, newEvent("one"), newEvent("two"))
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("at the limit: %v, want 429", err)
	}
	if delay, ok := apierrors.SuggestsClientDelay(err); !ok || delay <= 0 {
		t.Errorf("the 429 suggests no retry delay: %v", err)
	}
	list, err := r.List(genericapirequest.WithNamespace(context.Background(), "apps"), nil)
	if err != nil || len(list.(*notification.EventList).Items) != 0 {
		t.Errorf("a refused batch stored %v (%v)", list, err)
	}
	// Room for one more: the first item is taken, the second refused as
	// its create alone would be.
	pending = 1
	got, err := createBatch(t, b, newEvent("one"), newEvent("two"))
	if err != nil || got[0].Code != http.StatusCreated || got[1].Code != http.StatusTooManyRequests ||
		got[1].Reason != string(metav1.StatusReasonTooManyRequests) {
		t.Errorf("one below the limit: %+v %v, want 201 then 429", got, err)
	}
	pending = 0
	if got, err := createBatch(t, b, newEvent("two"), newEvent("three")); err != nil || got[0].Code != 201 || got[1].Code != 201 {
		t.Errorf("with room: %+v %v", got, err)
	}
}
