package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

const protobufType = "application/vnd.kubernetes.protobuf"

// contentTypes records the Content-Type of every response a client got.
type contentTypes struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (c *contentTypes) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err == nil {
		c.mu.Lock()
		c.seen = append(c.seen, fmt.Sprintf("%s %s -> %d %s", req.Method, req.URL.RequestURI(), resp.StatusCode, resp.Header.Get("Content-Type")))
		c.mu.Unlock()
	}
	return resp, err
}

// notProtobuf returns the responses that were not protobuf, and how many
// there were in all.
func (c *contentTypes) notProtobuf() (others []string, all int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.seen {
		if !strings.Contains(s, " "+protobufType) {
			others = append(others, s)
		}
	}
	return others, len(c.seen)
}

// protobufClient is the typed clientset sending and accepting protobuf
// only, as client-go does for a config with these content types.
func protobufClient(t *testing.T) (versioned.Interface, *contentTypes) {
	t.Helper()
	cfg := rest.CopyConfig(clientConfig)
	cfg.ContentType = protobufType
	cfg.AcceptContentTypes = protobufType
	rec := &contentTypes{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec })
	pb, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pb, rec
}

// reader is what the typed clients of the three kinds have in common.
type reader[T runtime.Object, L runtime.Object] interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
	Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (T, error)
}

// readBack reads every object of a kind in the namespace through the
// protobuf client (pb) as LIST, GET and WATCH, checks that each equals
// what the JSON client (js) reads at the same resourceVersion, and
// returns the objects by name.
func readBack[T runtime.Object, L runtime.Object](t *testing.T, pb, js reader[T, L], want int) map[string]T {
	t.Helper()
	ctx := t.Context()
	pbList, err := pb.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("protobuf list: %v", err)
	}
	rv := listRV(t, pbList)
	jsList, err := js.List(ctx, metav1.ListOptions{ResourceVersion: rv, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil {
		t.Fatalf("JSON list at %s: %v", rv, err)
	}
	got, reference := byName[T](t, pbList), byName[T](t, jsList)
	if len(got) != want || len(reference) != want {
		t.Fatalf("protobuf list has %d items, JSON list %d; want %d", len(got), len(reference), want)
	}
	for name, obj := range got {
		expectEqual(t, "protobuf list item "+name, reference[name], obj)
	}

	for name, listed := range got {
		obj, err := pb.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("protobuf get %s: %v", name, err)
		}
		// Settled objects do not change between the list and the get.
		expectEqual(t, "protobuf get "+name, listed, obj)
	}

	// Without a resourceVersion a watch starts with an ADDED event for
	// every object, then sends the changes.
	w, err := pb.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("protobuf watch: %v", err)
	}
	defer w.Stop()
	for range want {
		ev := nextEvent(t, w)
		obj, ok := ev.Object.(T)
		if ev.Type != watch.Added || !ok {
			t.Fatalf("watch: %s of %T, want ADDED", ev.Type, ev.Object)
		}
		name := objectName(t, obj)
		expectEqual(t, "watched "+name, got[name], obj)
	}
	var first string
	for name := range got {
		first = name
		break
	}
	patched, err := pb.Patch(ctx, first, types.MergePatchType, []byte(`{"metadata":{"labels":{"watched":"yes"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("patch %s: %v", first, err)
	}
	for {
		ev := nextEvent(t, w)
		obj, ok := ev.Object.(T)
		if !ok {
			t.Fatalf("watch: %s of %T", ev.Type, ev.Object)
		}
		if m, _ := meta.Accessor(obj); ev.Type == watch.Modified && m.GetLabels()["watched"] == "yes" {
			expectEqual(t, "watched change of "+first, patched, obj)
			break
		}
	}
	return got
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch closed")
		}
		if ev.Type == watch.Error {
			t.Fatalf("watch error: %v", ev.Object)
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no watch event within 30s")
	}
	return watch.Event{}
}

func listRV(t *testing.T, list runtime.Object) string {
	t.Helper()
	m, err := meta.ListAccessor(list)
	if err != nil {
		t.Fatal(err)
	}
	return m.GetResourceVersion()
}

func objectName(t *testing.T, obj runtime.Object) string {
	t.Helper()
	m, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	return m.GetName()
}

func byName[T runtime.Object](t *testing.T, list runtime.Object) map[string]T {
	t.Helper()
	items, err := meta.ExtractList(list)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]T, len(items))
	for _, item := range items {
		obj, ok := item.(T)
		if !ok {
			t.Fatalf("list item of %T", item)
		}
		out[objectName(t, obj)] = obj
	}
	return out
}

// expectEqual compares two objects, their TypeMeta aside: the typed
// clients clear it for JSON and protobuf alike, but a watch does not.
func expectEqual(t *testing.T, what string, want, got runtime.Object) {
	t.Helper()
	want, got = want.DeepCopyObject(), got.DeepCopyObject()
	want.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	got.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	if !equality.Semantic.DeepEqual(want, got) {
		t.Errorf("%s differs from the JSON reference (-want +got):\n%s", what, diff.Diff(want, got))
	}
}

func TestProtobufClientsListGetAndWatchEveryKind(t *testing.T) {
	ns := "protobuf-read"
	pb, responses := protobufClient(t)
	ctx := t.Context()
	// Seconds: metav1.Time is stored as RFC 3339 JSON.
	now := metav1.NewTime(time.Now().Truncate(time.Second))

	providers := []*v1beta2.Provider{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook", Labels: map[string]string{"team": "a", "tier": "web"}},
			Spec: v1beta2.ProviderSpec{Type: "generic", Address: "https://hooks.example.com/flux", Channel: "deploys",
				Interval: &metav1.Duration{Duration: time.Hour}, Timeout: &metav1.Duration{Duration: 7 * time.Second}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chat", Annotations: map[string]string{"owner": "platform"}},
			Spec: v1beta2.ProviderSpec{Type: "generic", Address: "https://chat.example.com/hook", Username: "flux",
				Proxy: "http://proxy.example.com:3128", Interval: &metav1.Duration{Duration: 90 * time.Minute},
				Timeout: &metav1.Duration{Duration: 1500 * time.Millisecond}}},
	}
	alerts := []*v1beta2.Alert{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: v1beta2.AlertSpec{ProviderRef: v1beta2.LocalObjectReference{Name: "hook"}, EventSeverity: "error",
				EventSources: []v1beta2.CrossNamespaceObjectReference{
					{Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"app": "web", "tier": "frontend"}},
					{Kind: "GitRepository", Name: "flux-system", Namespace: ns, APIVersion: "source.toolkit.fluxcd.io/v1"},
				},
				InclusionList: []string{"^deploy", "ready$"}, ExclusionList: []string{"skip"},
				EventMetadata: map[string]string{"cluster": "eu-1", "env": "prod"}, Summary: "web in eu-1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chat"},
			Spec: v1beta2.AlertSpec{ProviderRef: v1beta2.LocalObjectReference{Name: "chat"}, EventSeverity: "info",
				EventSources: []v1beta2.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "apps"}}}},
	}
	// The Alerts watch Kustomizations and the Events are about a
	// HelmRelease, so no delivery changes the Events behind the test.
	events := []*v1beta2.Event{newEvent(ns, "upgrade failed"), newEvent(ns, "rollback done")}
	events[0].Timestamp = now
	events[1].Timestamp, events[1].Severity, events[1].Reason = now, "info", "RollbackSucceeded"
	events[1].EventMetadata = map[string]string{"helm.toolkit.fluxcd.io/revision": "6.4.0", "event.toolkit.fluxcd.io/token": "abc"}

	// Created through protobuf: the request bodies are protobuf too.
	for _, p := range providers {
		if _, err := pb.NotificationV1beta2().Providers(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Provider %s: %v", p.Name, err)
		}
	}
	for _, a := range alerts {
		if _, err := pb.NotificationV1beta2().Alerts(ns).Create(ctx, a, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Alert %s: %v", a.Name, err)
		}
	}
	eventNames := map[string]*v1beta2.Event{}
	for _, e := range events {
		created, err := pb.NotificationV1beta2().Events(ns).Create(ctx, e, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create Event %q: %v", e.Message, err)
		}
		eventNames[created.Name] = e
	}
	// The server only keeps the metadata keys of the involved object's group.
	delete(events[0].EventMetadata, "helm.toolkit.fluxcd.io/digest")
	delete(events[0].EventMetadata, "unrelated/key")

	settle(t, ns, len(providers), len(alerts), len(events))
	deliveries := writeDeliveries(t, pb, ns, now)

	gotProviders := readBack[*v1beta2.Provider, *v1beta2.ProviderList](t, pb.NotificationV1beta2().Providers(ns), client.NotificationV1beta2().Providers(ns), len(providers))
	for _, want := range providers {
		got := gotProviders[want.Name]
		if !equality.Semantic.DeepEqual(want.Spec, got.Spec) {
			t.Errorf("Provider %s spec (-created +read):\n%s", want.Name, diff.Diff(want.Spec, got.Spec))
		}
		expectConditions(t, "Provider "+want.Name, got.Generation, got.Status.ObservedGeneration, got.Status.Conditions)
	}
	gotAlerts := readBack[*v1beta2.Alert, *v1beta2.AlertList](t, pb.NotificationV1beta2().Alerts(ns), client.NotificationV1beta2().Alerts(ns), len(alerts))
	for _, want := range alerts {
		got := gotAlerts[want.Name]
		if !equality.Semantic.DeepEqual(want.Spec, got.Spec) {
			t.Errorf("Alert %s spec (-created +read):\n%s", want.Name, diff.Diff(want.Spec, got.Spec))
		}
		expectConditions(t, "Alert "+want.Name, got.Generation, got.Status.ObservedGeneration, got.Status.Conditions)
	}
	gotEvents := readBack[*v1beta2.Event, *v1beta2.EventList](t, pb.NotificationV1beta2().Events(ns), client.NotificationV1beta2().Events(ns), len(events))
	for name, want := range eventNames {
		got := gotEvents[name]
		wantBody, gotBody := want.DeepCopy(), got.DeepCopy()
		wantBody.ObjectMeta, gotBody.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
		wantBody.Status, gotBody.Status = v1beta2.EventStatus{}, v1beta2.EventStatus{}
		if !equality.Semantic.DeepEqual(wantBody, gotBody) {
			t.Errorf("Event %s body (-created +read):\n%s", name, diff.Diff(wantBody, gotBody))
		}
		if got.Status.RoutedAt == nil || !equality.Semantic.DeepEqual(deliveries, got.Status.Deliveries) {
			t.Errorf("Event %s status %+v, want routed with the deliveries written", name, got.Status)
		}
	}

	others, all := responses.notProtobuf()
	if all == 0 || len(others) > 0 {
		t.Errorf("%d of %d responses were not protobuf: %s", len(others), all, strings.Join(others, "; "))
	}
}

// settle waits until the reconciler has made every Provider and Alert
// Ready and the delivery loop has routed every Event, so that nothing
// changes them while the test reads.
func settle(t *testing.T, ns string, providers, alerts, events int) {
	t.Helper()
	nc := client.NotificationV1beta2()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		ps, err := nc.Providers(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(ps.Items) != providers {
			return false, err
		}
		for _, p := range ps.Items {
			if p.Status.ObservedGeneration != p.Generation || !meta.IsStatusConditionTrue(p.Status.Conditions, "Ready") {
				return false, nil
			}
		}
		as, err := nc.Alerts(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(as.Items) != alerts {
			return false, err
		}
		for _, a := range as.Items {
			if a.Status.ObservedGeneration != a.Generation || !meta.IsStatusConditionTrue(a.Status.Conditions, "Ready") {
				return false, nil
			}
		}
		es, err := nc.Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(es.Items) != events {
			return false, err
		}
		for _, e := range es.Items {
			if e.Status.RoutedAt == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the namespace %s never settled: %v", ns, err)
	}
}

// writeDeliveries records deliveries in the status of every Event of the
// namespace, through protobuf, and returns them.
func writeDeliveries(t *testing.T, pb versioned.Interface, ns string, at metav1.Time) []v1beta2.Delivery {
	t.Helper()
	deliveries := []v1beta2.Delivery{
		{Alert: "web", Provider: "hook", State: "Delivered", Attempts: 2, LastAttemptTime: &at},
		{Alert: "chat", Provider: "chat", State: "Skipped", Message: "provider suspended"},
	}
	events := pb.NotificationV1beta2().Events(ns)
	list, err := events.List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range list.Items {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			e, err := events.Get(t.Context(), item.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			e.Status.Deliveries = deliveries
			_, err = events.UpdateStatus(t.Context(), e, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("status of Event %s: %v", item.Name, err)
		}
	}
	return deliveries
}

func expectConditions(t *testing.T, what string, generation, observed int64, conditions []metav1.Condition) {
	t.Helper()
	if observed != generation || len(conditions) == 0 {
		t.Errorf("%s: observedGeneration %d of %d, %d conditions", what, observed, generation, len(conditions))
	}
	for _, c := range conditions {
		if c.Type == "" || c.Status == "" || c.Reason == "" || c.LastTransitionTime.IsZero() || c.ObservedGeneration != generation {
			t.Errorf("%s: condition %+v read back incomplete", what, c)
		}
	}
}

func TestClientsPreferringProtobufGetProtobufAndJSONClientsJSON(t *testing.T) {
	ns := "protobuf-negotiation"
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	for _, tc := range []struct {
		accept, want, body string
	}{
		// The kube-controller-manager's clients prefer protobuf with JSON as
		// the fallback.
		{"application/vnd.kubernetes.protobuf, application/json", protobufType, "slack-bot-token"},
		{"application/json", "application/json", `"name":"p"`},
		// Metadata-only lists, as the garbage collector and the namespace
		// controller ask for them.
		{"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
			protobufType, "PartialObjectMetadataList"},
		{"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
			"application/json", `"kind":"PartialObjectMetadataList"`},
	} {
		res := client.NotificationV1beta2().RESTClient().Get().Namespace(ns).Resource("providers").
			SetHeader("Accept", tc.accept).Do(t.Context())
		var contentType string
		raw, err := res.ContentType(&contentType).Raw()
		if err != nil {
			t.Fatalf("list with Accept %q: %v", tc.accept, err)
		}
		if contentType != tc.want || !strings.Contains(string(raw), tc.body) {
			t.Errorf("Accept %q answered %s: %.300q; want %s with %s", tc.accept, contentType, raw, tc.want, tc.body)
		}
	}
}
