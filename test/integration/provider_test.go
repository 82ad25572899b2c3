package integration

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	typedv1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/typed/notification/v1beta2"
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
	if created.Status.ObservedGeneration != 0 {
		t.Errorf("observedGeneration %d was taken from a create", created.Status.ObservedGeneration)
	}
	if c := meta.FindStatusCondition(created.Status.Conditions, "Ready"); c == nil || c.Reason == "Faked" || c.Status != metav1.ConditionUnknown {
		t.Errorf("conditions %+v on create, want the server's Ready=Unknown", created.Status.Conditions)
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

// updateProvider changes the latest version of a Provider, retrying when
// the reconciler wrote its status in between.
func updateProvider(t *testing.T, providers typedv1beta2.ProviderInterface, name string, change func(*v1beta2.Provider)) *v1beta2.Provider {
	t.Helper()
	var updated *v1beta2.Provider
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := providers.Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(current)
		updated, err = providers.Update(t.Context(), current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating Provider %s: %v", name, err)
	}
	return updated
}

func TestProviderUpdateConflictsAndGeneration(t *testing.T) {
	ns := "update"
	providers := client.NotificationV1beta2().Providers(ns)
	created, err := providers.Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}

	updated := updateProvider(t, providers, "p", func(p *v1beta2.Provider) { p.Spec.Channel = "alerts" })
	if updated.Generation != 2 {
		t.Errorf("generation after a spec change = %d, want 2", updated.Generation)
	}

	stale := created.DeepCopy() // still carries the first resourceVersion
	stale.Spec.Channel = "random"
	if _, err := providers.Update(t.Context(), stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update with a stale resourceVersion: got %v, want 409 Conflict", err)
	}

	relabelled := updateProvider(t, providers, "p", func(p *v1beta2.Provider) { p.Labels["extra"] = "yes" })
	if relabelled.Generation != 2 {
		t.Errorf("generation after a metadata-only change = %d, want 2", relabelled.Generation)
	}
}

func TestProviderStatusAndSpecAreWrittenSeparately(t *testing.T) {
	ns := "status"
	providers := client.NotificationV1beta2().Providers(ns)
	_, err := providers.Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}

	// A status write carrying a spec change changes only the status. The
	// reconciler writes status too: retry on conflicts.
	var afterStatus *v1beta2.Provider
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := providers.Get(t.Context(), "p", metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Spec.Channel = "sneaky"
		current.Status.ObservedGeneration = 1
		current.Status.LastHandledReconcileAt = "by-the-test"
		afterStatus, err = providers.UpdateStatus(t.Context(), current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if afterStatus.Spec.Channel != "general" {
		t.Errorf("status write changed spec.channel to %q", afterStatus.Spec.Channel)
	}
	if afterStatus.Generation != 1 {
		t.Errorf("status write changed generation to %d", afterStatus.Generation)
	}
	if afterStatus.Status.LastHandledReconcileAt != "by-the-test" {
		t.Errorf("status not written: %+v", afterStatus.Status)
	}

	// A spec write carrying a status change changes only the spec (and
	// marks the new generation as being reconciled).
	var afterSpec *v1beta2.Provider
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := providers.Get(t.Context(), "p", metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Spec.Channel = "alerts"
		current.Status = v1beta2.ProviderStatus{LastHandledReconcileAt: "from-a-spec-write"}
		afterSpec, err = providers.Update(t.Context(), current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if afterSpec.Spec.Channel != "alerts" || afterSpec.Generation != 2 {
		t.Errorf("spec write lost: channel %q generation %d", afterSpec.Spec.Channel, afterSpec.Generation)
	}
	if afterSpec.Status.LastHandledReconcileAt == "from-a-spec-write" {
		t.Errorf("a spec write changed the status: %+v", afterSpec.Status)
	}
	if c := meta.FindStatusCondition(afterSpec.Status.Conditions, "Reconciling"); c == nil || c.ObservedGeneration != 2 {
		t.Errorf("conditions after a spec change %+v, want Reconciling for generation 2", afterSpec.Status.Conditions)
	}

	bad := afterSpec.DeepCopy()
	bad.ResourceVersion = "" // unconditional: the reconciler may have written since
	bad.Status.Conditions = append(bad.Status.Conditions, metav1.Condition{Type: "Odd", Status: "Maybe", Reason: "X", LastTransitionTime: metav1.Now()})
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

	if _, err := providers.Create(t.Context(), newProvider(ns, "p"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	updateProvider(t, providers, "p", func(p *v1beta2.Provider) { p.Spec.Channel = "alerts" })
	if err := providers.Delete(t.Context(), "p", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}

	want := []struct {
		typ     watch.EventType
		channel string
	}{{watch.Added, "general"}, {watch.Modified, "alerts"}, {watch.Deleted, "alerts"}}
	// The reconciler's status writes come as MODIFIED events of an
	// unchanged spec: the spec changes must come in order between them.
	var lastChannel string
	for i := 0; i < len(want); {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*v1beta2.Provider)
			if !ok {
				t.Fatalf("event %s of %T", ev.Type, ev.Object)
			}
			if ev.Type == watch.Modified && p.Spec.Channel == lastChannel {
				continue // a status write
			}
			if ev.Type != want[i].typ || p.Spec.Channel != want[i].channel {
				t.Fatalf("event %d: %s with channel %s, want %s with channel %s", i, ev.Type, p.Spec.Channel, want[i].typ, want[i].channel)
			}
			lastChannel = p.Spec.Channel
			i++
		case <-time.After(30 * time.Second):
			t.Fatalf("event %d (%s) never arrived", i, want[i].typ)
		}
	}
}
