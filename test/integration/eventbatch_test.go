package integration

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// A batch answers for each item what a create of it alone would have:
// created, duplicate (of an Event stored before or of an earlier item),
// or invalid with the field named; the Events it creates are the same as
// single creates make, with their lease, and get delivered.
func TestEventBatchCreatesEachItemAsACreateAlone(t *testing.T) {
	ns := "batches"
	events := client.NotificationV1beta2().Events(ns)
	before, batch := batchOfEachKind(t, ns, "first")
	batch.Items = append(batch.Items, *newEvent(ns, "second"), *newEvent(ns, "first"))
	got, err := client.NotificationV1beta2().EventBatches(ns).Create(t.Context(), batch, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create batch: %v", err)
	}
	if len(got.Results) != len(batch.Items) {
		t.Fatalf("%d results for %d items: %+v", len(got.Results), len(batch.Items), got.Results)
	}
	wantCodes := []int32{http.StatusCreated, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusCreated, http.StatusConflict}
	for i, r := range got.Results {
		if r.Code != wantCodes[i] {
			t.Errorf("item %d: %+v, want code %d", i, r, wantCodes[i])
		}
	}
	if r := got.Results[1]; r.Name != before.Name || r.Reason != string(metav1.StatusReasonAlreadyExists) {
		t.Errorf("the repeat of a stored event: %+v, want AlreadyExists of %s", r, before.Name)
	}
	if r := got.Results[2]; !strings.Contains(r.Message, "severity") || r.Reason != string(metav1.StatusReasonInvalid) {
		t.Errorf("the invalid item: %+v, want Invalid naming severity", r)
	}
	if got.Results[4].Name != got.Results[0].Name {
		t.Errorf("the repeat within the batch is named %q, the first %q", got.Results[4].Name, got.Results[0].Name)
	}
	for _, i := range []int{0, 3} {
		r := got.Results[i]
		e, err := events.Get(t.Context(), r.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("item %d: get %s: %v", i, r.Name, err)
		}
		// The delivery loop may have written the status since.
		storedRV, _ := strconv.ParseUint(e.ResourceVersion, 10, 64)
		createdRV, err := strconv.ParseUint(r.ResourceVersion, 10, 64)
		if string(e.UID) != r.UID || err != nil || createdRV == 0 || createdRV > storedRV || e.Generation != 1 || e.CreationTimestamp.IsZero() {
			t.Errorf("item %d stored as uid %s rv %s generation %d created %v; the result says %+v",
				i, e.UID, e.ResourceVersion, e.Generation, e.CreationTimestamp, r)
		}
		if len(e.EventMetadata) != 1 {
			t.Errorf("item %d: metadata %v, want only the revision kept", i, e.EventMetadata)
		}
		err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			e, err := events.Get(ctx, r.Name, metav1.GetOptions{})
			return err == nil && e.Status.RoutedAt != nil, err
		})
		if err != nil {
			t.Fatalf("item %d never routed by the delivery loop: %v", i, err)
		}
	}

	// The batch's Events expire with the retention, as single ones.
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{server.EtcdURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	all, err := etcd.Get(t.Context(), "/registry/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, kv := range all.Kvs {
		if !strings.HasSuffix(string(kv.Key), "/events/"+ns+"/"+got.Results[0].Name) {
			continue
		}
		found = true
		ttl, err := etcd.TimeToLive(t.Context(), clientv3.LeaseID(kv.Lease))
		if err != nil || ttl.TTL < 3500 || ttl.TTL > 3600+240 {
			t.Errorf("a batch's Event has lease %d with TTL %d (%v), want about the 1h retention", kv.Lease, ttl.TTL, err)
		}
	}
	if !found {
		t.Errorf("no etcd key for %s", got.Results[0].Name)
	}
}

func TestEventBatchRefusesABadBatchWhole(t *testing.T) {
	ns := "batches-bad"
	batches := client.NotificationV1beta2().EventBatches(ns)
	elsewhere := newEvent("elsewhere", "moved")
	for _, tc := range []struct {
		name  string
		batch *v1beta2.EventBatch
		field string
	}{
		{"no items", &v1beta2.EventBatch{}, "items"},
		{"an item of another namespace", &v1beta2.EventBatch{Items: []v1beta2.Event{*newEvent(ns, "ok"), *elsewhere}}, "items[1].metadata.namespace"},
		{"results set by the client", &v1beta2.EventBatch{Items: []v1beta2.Event{*newEvent(ns, "ok")}, Results: []v1beta2.EventBatchResult{{Code: 201}}}, "results"},
		{"too many items", &v1beta2.EventBatch{Items: make([]v1beta2.Event, 501)}, "items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := batches.Create(t.Context(), tc.batch, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want 422", err)
			}
			if fields := causeFields(err); !fields[tc.field] {
				t.Errorf("causes %v lack %s", fields, tc.field)
			}
		})
	}
	list, err := client.NotificationV1beta2().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("a refused batch stored %d Events (%v)", len(list.Items), err)
	}
}

// A dry run of a batch answers each item as its create would (created,
// duplicate, invalid) and stores nothing.
func TestADryRunOfABatchAnswersAsItsCreatesWouldAndStoresNothing(t *testing.T) {
	ns := "batch-dry-run"
	events := client.NotificationV1beta2().Events(ns)
	before, batch := batchOfEachKind(t, ns, "tried")
	batch.Items = append(batch.Items, *newEvent(ns, "tried"))
	got, err := client.NotificationV1beta2().EventBatches(ns).Create(t.Context(), batch, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("a dry run of a batch: %v", err)
	}
	wantCodes := []int32{http.StatusCreated, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusConflict}
	if len(got.Results) != len(wantCodes) {
		t.Fatalf("results %+v, want %d", got.Results, len(wantCodes))
	}
	for i, r := range got.Results {
		if r.Code != wantCodes[i] {
			t.Errorf("item %d: %+v, want code %d", i, r, wantCodes[i])
		}
	}
	if r := got.Results[0]; r.Name == "" || r.ResourceVersion != "" {
		t.Errorf("the new item: %+v, want its name and no resourceVersion (not stored)", r)
	}
	if r := got.Results[1]; r.Name != before.Name || r.Reason != string(metav1.StatusReasonAlreadyExists) {
		t.Errorf("the repeat of a stored event: %+v, want AlreadyExists of %s", r, before.Name)
	}
	list, err := events.List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != before.Name {
		t.Errorf("after the dry run the namespace holds %d Events (%v), want only %s", len(list.Items), err, before.Name)
	}
}

// batchOfEachKind stores an Event in ns and returns it with a batch of
// three items: a new Event with message first, a repeat of the stored
// one, and one with an invalid severity.
func batchOfEachKind(t *testing.T, ns, first string) (*v1beta2.Event, *v1beta2.EventBatch) {
	t.Helper()
	before, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "stored before"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	invalid := newEvent(ns, "invalid")
	invalid.Severity = "warning"
	return before, &v1beta2.EventBatch{Items: []v1beta2.Event{*newEvent(ns, first), *newEvent(ns, "stored before"), *invalid}}
}
