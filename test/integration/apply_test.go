package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	ac "github.com/notification-apiserver/notification-apiserver/pkg/generated/applyconfiguration/notification/v1beta2"
)

func TestServerSideApplyOwnsFieldsAndReportsConflicts(t *testing.T) {
	ns := "apply"
	providers := client.NotificationV1beta2().Providers(ns)

	first := ac.Provider("slack-bot", ns).WithSpec(ac.ProviderSpec().
		WithType("slack").
		WithChannel("general").
		WithAddress("https://slack.com/api/chat.postMessage").
		WithSecretRef(ac.LocalObjectReference().WithName("slack-bot-token")))
	applied, err := providers.Apply(t.Context(), first, metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if applied.Spec.Channel != "general" || applied.Generation != 1 {
		t.Fatalf("applied %+v generation %d", applied.Spec, applied.Generation)
	}

	// The same apply again changes nothing. Wait for the reconciler's first
	// status write, so that it does not change the resourceVersion meanwhile.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := providers.Get(ctx, "slack-bot", metav1.GetOptions{})
		if err == nil && p.Status.ObservedGeneration == p.Generation {
			applied = p
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := providers.Apply(t.Context(), first, metav1.ApplyOptions{FieldManager: "alice"})
	if err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	if again.ResourceVersion != applied.ResourceVersion {
		t.Errorf("re-applying the same configuration wrote a new resourceVersion (%s -> %s)", applied.ResourceVersion, again.ResourceVersion)
	}

	// Another manager setting the same field conflicts...
	second := ac.Provider("slack-bot", ns).WithSpec(ac.ProviderSpec().WithType("slack").WithChannel("random"))
	_, err = providers.Apply(t.Context(), second, metav1.ApplyOptions{FieldManager: "bob"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("apply by another manager: got %v, want a 409 conflict", err)
	}
	// ...until it forces, and then owns it.
	forced, err := providers.Apply(t.Context(), second, metav1.ApplyOptions{FieldManager: "bob", Force: true})
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if forced.Spec.Channel != "random" {
		t.Errorf("forced apply left channel %q", forced.Spec.Channel)
	}
	if forced.Spec.Address == "" {
		t.Errorf("forced apply by bob dropped alice's address")
	}

	// The status is applied through /status by its own manager.
	status := ac.Provider("slack-bot", ns).WithStatus(ac.ProviderStatus().
		WithObservedGeneration(forced.Generation).
		WithConditions(metav1ac.Condition().WithType("Ready").WithStatus(metav1.ConditionTrue).
			WithReason("Succeeded").WithMessage("Initialized").WithLastTransitionTime(metav1.Now())))
	withStatus, err := providers.ApplyStatus(t.Context(), status, metav1.ApplyOptions{FieldManager: "status-writer", Force: true})
	if err != nil {
		t.Fatalf("apply status: %v", err)
	}
	if c := meta.FindStatusCondition(withStatus.Status.Conditions, "Ready"); c == nil || c.Message != "Initialized" || withStatus.Spec.Channel != "random" {
		t.Errorf("after apply status: spec %+v status %+v", withStatus.Spec, withStatus.Status)
	}

	managers := map[string]bool{}
	for _, mf := range withStatus.ManagedFields {
		managers[mf.Manager+"/"+string(mf.Operation)+"/"+mf.Subresource] = true
	}
	for _, want := range []string{"alice/Apply/", "bob/Apply/", "status-writer/Apply/status"} {
		if !managers[want] {
			t.Errorf("managedFields %v lack %s", managers, want)
		}
	}

	// Extract gives back what one manager owns, from the schema of the
	// generated apply configurations (it is empty if they lost their schema).
	extracted, err := ac.ExtractProvider(withStatus, "alice")
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	if extracted.Spec == nil || extracted.Spec.Address == nil || *extracted.Spec.Address != "https://slack.com/api/chat.postMessage" {
		b, _ := json.Marshal(extracted)
		t.Errorf("alice's extracted configuration %s lacks spec.address", b)
	}
	if extracted.Spec != nil && extracted.Spec.Channel != nil {
		t.Errorf("alice still owns spec.channel after bob forced it")
	}
}

func TestApplyOnStatusCannotChangeSpec(t *testing.T) {
	ns := "apply-status"
	providers := client.NotificationV1beta2().Providers(ns)
	if _, err := providers.Apply(t.Context(), ac.Provider("p", ns).WithSpec(ac.ProviderSpec().WithType("generic").WithAddress("https://example.com/hook")),
		metav1.ApplyOptions{FieldManager: "alice"}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	sneaky := ac.Provider("p", ns).WithSpec(ac.ProviderSpec().WithType("slack"))
	got, err := providers.ApplyStatus(t.Context(), sneaky, metav1.ApplyOptions{FieldManager: "status-writer", Force: true})
	if err != nil {
		t.Fatalf("apply status: %v", err)
	}
	if got.Spec.Type != "generic" {
		t.Errorf("an apply on /status changed spec.type to %q", got.Spec.Type)
	}
}
