package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func newEvent(ns, message string) *v1beta2.Event {
	return &v1beta2.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns},
		InvolvedObject: v1beta2.ObjectReference{
			APIVersion: "helm.toolkit.fluxcd.io/v2", Kind: "HelmRelease", Name: "podinfo", Namespace: ns,
		},
		Severity: "error", Timestamp: metav1.Now(), Message: message, Reason: "UpgradeFailed",
		EventMetadata: map[string]string{
			"helm.toolkit.fluxcd.io/revision": "6.5.0",
			"helm.toolkit.fluxcd.io/digest":   "sha256:dropped",
			"unrelated/key":                   "dropped",
		},
		ReportingController: "helm-controller",
		ReportingInstance:   "helm-controller-7c7b47f5f-8bhrp",
	}
}

func TestEventsAreStoredOnceWithinTheWindow(t *testing.T) {
	ns := "events"
	events := client.NotificationV1beta2().Events(ns)
	created, err := events.Create(t.Context(), newEvent(ns, "upgrade failed"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Name == "" || created.Generation != 1 {
		t.Errorf("created %q generation %d", created.Name, created.Generation)
	}
	if len(created.EventMetadata) != 1 || created.EventMetadata["helm.toolkit.fluxcd.io/revision"] != "6.5.0" {
		t.Errorf("metadata %v, want only the revision", created.EventMetadata)
	}
	_, err = events.Create(t.Context(), newEvent(ns, "upgrade failed"), metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("the same event again: %v, want 409 AlreadyExists", err)
	}
	if !strings.Contains(err.Error(), created.Name) {
		t.Errorf("the conflict %q does not name the stored event %s", err, created.Name)
	}
	got, err := events.Get(t.Context(), created.Name, metav1.GetOptions{})
	if err != nil || got.Message != "upgrade failed" || got.ReportingInstance != "helm-controller-7c7b47f5f-8bhrp" {
		t.Errorf("get: %+v, %v", got, err)
	}
}

func TestEventsExpireWithALease(t *testing.T) {
	ns := "events-ttl"
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "ttl"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{server.EtcdURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	// The key ends with the namespace and name, under the server's prefix.
	all, err := etcd.Get(t.Context(), "/registry/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for _, kv := range all.Kvs {
		if strings.HasSuffix(string(kv.Key), "/events/"+ns+"/"+created.Name) {
			key = string(kv.Key)
		}
	}
	if key == "" {
		t.Fatalf("no etcd key for the Event among %d keys", len(all.Kvs))
	}
	checkLease := func(when string) {
		t.Helper()
		resp, err := etcd.Get(t.Context(), key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("%s: etcd key %s: %v", when, key, err)
		}
		if resp.Kvs[0].Lease == 0 {
			t.Fatalf("%s: the Event is stored without a lease", when)
		}
		ttl, err := etcd.TimeToLive(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease))
		if err != nil {
			t.Fatal(err)
		}
		// The apiserver shares leases between keys that expire within a
		// minute or so of each other: a lease may outlive the retention by that.
		if ttl.TTL < 3500 || ttl.TTL > 3600+120 {
			t.Errorf("%s: lease TTL %ds, want about the 1h retention", when, ttl.TTL)
		}
	}
	checkLease("after create")
	// Status writes (the delivery loop routes it) and updates keep the lease.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		e, err := client.NotificationV1beta2().Events(ns).Get(ctx, created.Name, metav1.GetOptions{})
		return err == nil && e.Status.RoutedAt != nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	checkLease("after the status write")
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		e, err := client.NotificationV1beta2().Events(ns).Get(t.Context(), created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		e.Labels = map[string]string{"touched": "yes"}
		_, err = client.NotificationV1beta2().Events(ns).Update(t.Context(), e, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	checkLease("after an update")
}

func TestInvalidEventsAreRefusedWithFieldPaths(t *testing.T) {
	ns := "events-invalid"
	e := newEvent(ns, "")
	e.InvolvedObject.Namespace = "elsewhere"
	e.Severity = "warning"
	_, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), e, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422", err)
	}
	fields := causeFields(err)
	for _, want := range []string{"involvedObject.namespace", "severity", "message"} {
		if !fields[want] {
			t.Errorf("causes %v lack %s", fields, want)
		}
	}
}

func TestEventBodyIsImmutableAndStatusRecordsDeliveries(t *testing.T) {
	ns := "events-status"
	events := client.NotificationV1beta2().Events(ns)
	created, err := events.Create(t.Context(), newEvent(ns, "status"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the delivery loop to route it (no Alert matches), so that
	// the status written below is not replaced by the routing.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		e, err := events.Get(ctx, created.Name, metav1.GetOptions{})
		return err == nil && e.Status.RoutedAt != nil, err
	})
	if err != nil {
		t.Fatalf("never routed: %v", err)
	}
	var updated *v1beta2.Event
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := events.Get(t.Context(), created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Message = "rewritten"
		current.Labels = map[string]string{"seen": "yes"}
		updated, err = events.Update(t.Context(), current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Message != "status" || updated.Labels["seen"] != "yes" {
		t.Errorf("update: message %q labels %v; want the body kept and the label set", updated.Message, updated.Labels)
	}

	var withStatus *v1beta2.Event
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := events.Get(t.Context(), created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		current.Status.Deliveries = []v1beta2.Delivery{
			{Alert: "slack", Provider: "slack-bot", State: "Delivered", Attempts: 1, LastAttemptTime: &now},
			{Alert: "slack", Provider: "webhook", State: "Failed", Attempts: 3, LastAttemptTime: &now, Message: "503 Service Unavailable"},
		}
		current.Message = "sneaky"
		withStatus, err = events.UpdateStatus(t.Context(), current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if len(withStatus.Status.Deliveries) != 2 || withStatus.Message != "status" {
		t.Errorf("status write: deliveries %d, message %q", len(withStatus.Status.Deliveries), withStatus.Message)
	}

	raw, err := client.NotificationV1beta2().RESTClient().Get().Namespace(ns).Resource("events").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if strings.Join(cols, " ") != "Name Severity Reason Object Delivered Age" || len(table.Rows) != 1 {
		t.Fatalf("columns %v, %d rows", cols, len(table.Rows))
	}
	cells := table.Rows[0].Cells
	if cells[1] != "error" || cells[2] != "UpgradeFailed" || cells[3] != "helmrelease/podinfo" || cells[4] != "1/2" {
		t.Errorf("row %v", cells)
	}
}

func TestEventsBySelector(t *testing.T) {
	ns := "events-select"
	events := client.NotificationV1beta2().Events(ns)
	info := newEvent(ns, "fine")
	info.Severity, info.Reason = "info", "UpgradeSucceeded"
	for _, e := range []*v1beta2.Event{newEvent(ns, "broken"), info} {
		if _, err := events.Create(t.Context(), e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := events.List(t.Context(), metav1.ListOptions{FieldSelector: "severity=error,involvedObject.kind=HelmRelease"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Message != "broken" {
		t.Errorf("selected %d events", len(list.Items))
	}
}

// The delivery loop watches status.pending=true only: an Event is pending
// until routed, and leaves that selection once nothing is left to do.
func TestEventsSelectedByPendingWork(t *testing.T) {
	ns := "events-pending"
	events := client.NotificationV1beta2().Events(ns)
	created, err := events.Create(t.Context(), newEvent(ns, "nothing routes me"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := func(selector string) []string {
		list, err := events.List(t.Context(), metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Fatalf("list %s: %v", selector, err)
		}
		var out []string
		for _, e := range list.Items {
			out = append(out, e.Name)
		}
		return out
	}
	// No Alert matches: once routed, nothing is pending.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		e, err := events.Get(ctx, created.Name, metav1.GetOptions{})
		return err == nil && e.Status.RoutedAt != nil, err
	})
	if err != nil {
		t.Fatalf("never routed: %v", err)
	}
	if got := names("status.pending=true"); len(got) != 0 {
		t.Errorf("status.pending=true selects %v after routing", got)
	}
	if got := names("status.pending=false"); len(got) != 1 || got[0] != created.Name {
		t.Errorf("status.pending=false selects %v, want [%s]", got, created.Name)
	}
	// A pending delivery written to the status brings it back (the
	// delivery loop then settles it: watch, do not list).
	w, err := events.Watch(t.Context(), metav1.ListOptions{FieldSelector: "status.pending=true"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	latest, err := events.Get(t.Context(), created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	latest.Status.Deliveries = []v1beta2.Delivery{{Alert: "a", Provider: "p", State: "Pending"}}
	if _, err := events.UpdateStatus(t.Context(), latest, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if e, ok := ev.Object.(*v1beta2.Event); !ok || ev.Type != watch.Added || e.Name != created.Name {
			t.Errorf("the pending watch saw %s %T, want ADDED %s", ev.Type, ev.Object, created.Name)
		}
	case <-time.After(30 * time.Second):
		t.Error("the pending watch saw nothing of the Event made pending")
	}
}
