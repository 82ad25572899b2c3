package integration

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func newProvider(ns, name string) *v1beta2.Provider {
	return &v1beta2.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"team": "a"}},
		Spec: v1beta2.ProviderSpec{
			Type:      "slack",
			Channel:   "general",
			Address:   "https://slack.com/api/chat.postMessage",
			SecretRef: &v1beta2.LocalObjectReference{Name: "slack-bot-token"},
		},
	}
}

func TestProviderCreateIsDefaultedAndReadBack(t *testing.T) {
	ns := "create"
	created, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "slack-bot"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Generation != 1 {
		t.Errorf("generation = %d, want 1", created.Generation)
	}
	if created.Spec.Interval == nil || created.Spec.Interval.Duration != 10*time.Minute {
		t.Errorf("interval = %v, want the 10m default", created.Spec.Interval)
	}
	if created.Spec.Timeout == nil || created.Spec.Timeout.Duration != 15*time.Second {
		t.Errorf("timeout = %v, want the 15s default", created.Spec.Timeout)
	}
	got, err := client.NotificationV1beta2().Providers(ns).Get(t.Context(), "slack-bot", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Spec.Channel != "general" || got.Spec.SecretRef == nil || got.Spec.SecretRef.Name != "slack-bot-token" {
		t.Errorf("read back spec %+v, want what was created", got.Spec)
	}
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "slack-bot"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: got %v, want AlreadyExists", err)
	}
}

func TestProviderCreateIgnoresStatus(t *testing.T) {
	ns := "create-status"
	p := newProvider(ns, "p")
	p.Status.ObservedGeneration = 7
	p.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Faked", LastTransitionTime: metav1.Now()}}
	created, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Status.ObservedGeneration != 0 || len(created.Status.Conditions) != 0 {
		t.Errorf("status %+v was taken from a create, want it reset", created.Status)
	}
}

func TestProviderInvalidIsRefusedWithFieldPaths(t *testing.T) {
	ns := "invalid"
	p := newProvider(ns, "bad")
	p.Spec.Type = "carrier-pigeon"
	p.Spec.Timeout = &metav1.Duration{Duration: -time.Second}
	_, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), p, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422 Invalid", err)
	}
	fields := causeFields(err)
	for _, want := range []string{"spec.type", "spec.timeout"} {
		if !fields[want] {
			t.Errorf("causes %v lack %s", fields, want)
		}
	}
	if _, err := client.NotificationV1beta2().Providers(ns).Get(t.Context(), "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused Provider was stored: get answered %v", err)
	}
}

func causeFields(err error) map[string]bool {
	fields := map[string]bool{}
	if s, ok := err.(apierrors.APIStatus); ok && s.Status().Details != nil {
		for _, c := range s.Status().Details.Causes {
			fields[c.Field] = true
		}
	}
	return fields
}

func TestProviderListBySelectors(t *testing.T) {
	ns := "list"
	providers := client.NotificationV1beta2().Providers(ns)
	for _, name := range []string{"one", "two", "three"} {
		p := newProvider(ns, name)
		if name == "three" {
			p.Labels = map[string]string{"team": "b"}
		}
		if _, err := providers.Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	all, err := providers.List(t.Context(), metav1.ListOptions{})
	if err != nil || len(all.Items) != 3 {
		t.Fatalf("list: %d items, %v; want 3", len(all.Items), err)
	}
	byLabel, err := providers.List(t.Context(), metav1.ListOptions{LabelSelector: "team=a"})
	if err != nil {
		t.Fatalf("list by label: %v", err)
	}
	if names := itemNames(byLabel.Items); names != "one,two" {
		t.Errorf("team=a selected %q, want one,two", names)
	}
	byName, err := providers.List(t.Context(), metav1.ListOptions{FieldSelector: "metadata.name=two"})
	if err != nil {
		t.Fatalf("list by field: %v", err)
	}
	if names := itemNames(byName.Items); names != "two" {
		t.Errorf("metadata.name=two selected %q", names)
	}
	if _, err := providers.List(t.Context(), metav1.ListOptions{FieldSelector: "spec.type=slack"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unsupported field selector: got %v, want 400", err)
	}
}

func itemNames(items []v1beta2.Provider) string {
	names := make([]string, 0, len(items))
	for _, p := range items {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

func TestProviderUpdateConflictsAndGeneration(t *testing.T) {
	ns := "update"
	providers := client.NotificationV1beta2().Providers(ns)
	created, err := providers.Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}

	changed := created.DeepCopy()
	changed.Spec.Channel = "alerts"
	updated, err := providers.Update(t.Context(), changed, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Generation != 2 {
		t.Errorf("generation after a spec change = %d, want 2", updated.Generation)
	}

	stale := created.DeepCopy() // still carries the first resourceVersion
	stale.Spec.Channel = "random"
	if _, err := providers.Update(t.Context(), stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: got %v, want 409 Conflict", err)
	}

	labelled := updated.DeepCopy()
	labelled.Labels["extra"] = "yes"
	relabelled, err := providers.Update(t.Context(), labelled, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("label update: %v", err)
	}
	if relabelled.Generation != 2 {
		t.Errorf("generation after a metadata-only change = %d, want 2", relabelled.Generation)
	}
}

func TestProviderStatusAndSpecAreWrittenSeparately(t *testing.T) {
	ns := "status"
	providers := client.NotificationV1beta2().Providers(ns)
	created, err := providers.Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}

	// A status write carrying a spec change changes only the status.
	withStatus := created.DeepCopy()
	withStatus.Spec.Channel = "sneaky"
	withStatus.Status.ObservedGeneration = 1
	meta.SetStatusCondition(&withStatus.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "Initialized"})
	afterStatus, err := providers.UpdateStatus(t.Context(), withStatus, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if afterStatus.Spec.Channel != "general" {
		t.Errorf("status write changed spec.channel to %q", afterStatus.Spec.Channel)
	}
	if afterStatus.Generation != 1 {
		t.Errorf("status write changed generation to %d", afterStatus.Generation)
	}
	if !meta.IsStatusConditionTrue(afterStatus.Status.Conditions, "Ready") || afterStatus.Status.ObservedGeneration != 1 {
		t.Errorf("status not written: %+v", afterStatus.Status)
	}

	// A spec write carrying a status change changes only the spec.
	withSpec := afterStatus.DeepCopy()
	withSpec.Spec.Channel = "alerts"
	withSpec.Status = v1beta2.ProviderStatus{}
	afterSpec, err := providers.Update(t.Context(), withSpec, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if afterSpec.Spec.Channel != "alerts" {
		t.Errorf("spec write lost: channel %q", afterSpec.Spec.Channel)
	}
	if !meta.IsStatusConditionTrue(afterSpec.Status.Conditions, "Ready") {
		t.Errorf("spec write cleared the status: %+v", afterSpec.Status)
	}

	bad := afterSpec.DeepCopy()
	bad.Status.Conditions = append(bad.Status.Conditions, metav1.Condition{Type: "Stalled", Status: "Maybe", Reason: "X", LastTransitionTime: metav1.Now()})
	if _, err := providers.UpdateStatus(t.Context(), bad, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("status with an invalid condition: got %v, want 422", err)
	}
}

func TestProviderDelete(t *testing.T) {
	ns := "delete"
	providers := client.NotificationV1beta2().Providers(ns)
	if _, err := providers.Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := providers.Delete(t.Context(), "p", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := providers.Get(t.Context(), "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: got %v, want NotFound", err)
	}
	if err := providers.Delete(t.Context(), "p", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: got %v, want NotFound", err)
	}
}

func TestProviderWatchSeesChangesInOrder(t *testing.T) {
	ns := "watch"
	providers := client.NotificationV1beta2().Providers(ns)
	w, err := providers.Watch(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	created, err := providers.Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	changed := created.DeepCopy()
	changed.Spec.Channel = "alerts"
	if _, err := providers.Update(t.Context(), changed, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := providers.Delete(t.Context(), "p", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}

	want := []struct {
		typ     watch.EventType
		channel string
	}{{watch.Added, "general"}, {watch.Modified, "alerts"}, {watch.Deleted, "alerts"}}
	for i, w8 := range want {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*v1beta2.Provider)
			if ev.Type != w8.typ || !ok || p.Spec.Channel != w8.channel {
				t.Fatalf("event %d: %s %T, want %s of a Provider with channel %s", i, ev.Type, ev.Object, w8.typ, w8.channel)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("event %d (%s) never arrived", i, w8.typ)
		}
	}
}

func TestClientsPreferringProtobufGetJSON(t *testing.T) {
	ns := "protobuf"
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	// The objects themselves have no protobuf form: JSON is chosen.
	accept := "application/vnd.kubernetes.protobuf, application/json"
	res := client.NotificationV1beta2().RESTClient().Get().Namespace(ns).Resource("providers").
		SetHeader("Accept", accept).Do(t.Context())
	var contentType string
	raw, err := res.ContentType(&contentType).Raw()
	if err != nil {
		t.Fatalf("list with Accept %q: %v", accept, err)
	}
	if !strings.HasPrefix(contentType, "application/json") || !strings.Contains(string(raw), `"name":"p"`) {
		t.Errorf("Accept %q answered %s: %.200s", accept, contentType, raw)
	}
	// Metadata-only lists, as the garbage collector asks for them, keep
	// protobuf: PartialObjectMetadataList has it.
	accept = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
	res = client.NotificationV1beta2().RESTClient().Get().Namespace(ns).Resource("providers").
		SetHeader("Accept", accept).Do(t.Context())
	raw, err = res.ContentType(&contentType).Raw()
	if err != nil {
		t.Fatalf("metadata list: %v", err)
	}
	if contentType != "application/vnd.kubernetes.protobuf" || !strings.Contains(string(raw), "PartialObjectMetadataList") {
		t.Errorf("metadata list answered %s: %.200q", contentType, raw)
	}
}
