package reconciled_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/provider"
)

func newProvider() *notification.Provider {
	return &notification.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Generation: 4, ResourceVersion: "9"},
		Spec:       notification.ProviderSpec{Type: "slack", Channel: "general"},
		Status: notification.ProviderStatus{
			ObservedGeneration: 4,
			Conditions:         []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded"}},
		},
	}
}

func TestCreateStartsAtGenerationOneWithEmptyStatus(t *testing.T) {
	p := newProvider()
	provider.NewStrategy(runtime.NewScheme()).PrepareForCreate(context.Background(), p)
	if p.Generation != 1 {
		t.Errorf("generation = %d, want 1", p.Generation)
	}
	if p.Status.ObservedGeneration != 0 {
		t.Errorf("observedGeneration %d kept on create", p.Status.ObservedGeneration)
	}
	if !isReconciling(p.Status.Conditions, 1) {
		t.Errorf("conditions on create %+v, want Ready=Unknown and Reconciling=True for generation 1", p.Status.Conditions)
	}
}

func TestUpdateBumpsGenerationOnSpecChangesOnly(t *testing.T) {
	s := provider.NewStrategy(runtime.NewScheme())
	for _, tc := range []struct {
		name   string
		mutate func(*notification.Provider)
		want   int64
	}{
		{"a spec change", func(p *notification.Provider) { p.Spec.Channel = "alerts" }, 5},
		{"a label change", func(p *notification.Provider) { p.Labels = map[string]string{"a": "b"} }, 4},
		{"a status change", func(p *notification.Provider) { p.Status.ObservedGeneration = 1 }, 4},
		{"no change", func(*notification.Provider) {}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, p := newProvider(), newProvider()
			tc.mutate(p)
			s.PrepareForUpdate(context.Background(), p, old)
			if p.Generation != tc.want {
				t.Errorf("generation = %d, want %d", p.Generation, tc.want)
			}
			if p.Status.ObservedGeneration != 4 {
				t.Errorf("main resource update changed observedGeneration to %d", p.Status.ObservedGeneration)
			}
			specChanged := tc.want == 5
			if specChanged != isReconciling(p.Status.Conditions, tc.want) {
				t.Errorf("conditions %+v after %s", p.Status.Conditions, tc.name)
			}
			if !specChanged && (len(p.Status.Conditions) != 1 || p.Status.Conditions[0].Status != metav1.ConditionTrue) {
				t.Errorf("conditions %+v changed without a spec change", p.Status.Conditions)
			}
		})
	}
}

func TestStatusUpdateKeepsSpecAndMetadata(t *testing.T) {
	old, p := newProvider(), newProvider()
	p.Spec.Channel = "sneaky"
	p.Labels = map[string]string{"sneaky": "yes"}
	p.Status.ObservedGeneration = 3
	provider.NewStatusStrategy(runtime.NewScheme()).PrepareForUpdate(context.Background(), p, old)
	if p.Spec.Channel != "general" {
		t.Errorf("status update changed spec.channel to %q", p.Spec.Channel)
	}
	if p.Labels != nil {
		t.Errorf("status update changed labels to %v", p.Labels)
	}
	if p.Status.ObservedGeneration != 3 {
		t.Errorf("status update lost the status: %+v", p.Status)
	}
}

func TestResetFieldsSplitSpecAndStatus(t *testing.T) {
	main := provider.NewStrategy(runtime.NewScheme()).GetResetFields()["notification.toolkit.fluxcd.io/v1beta2"]
	status := provider.NewStatusStrategy(runtime.NewScheme()).GetResetFields()["notification.toolkit.fluxcd.io/v1beta2"]
	if main == nil || main.String() != ".status" {
		t.Errorf("main resource resets %v, want .status", main)
	}
	if status == nil || status.String() != ".spec" {
		t.Errorf("status subresource resets %v, want .spec", status)
	}
}

func TestGetAttrsSelectsByNameAndNamespace(t *testing.T) {
	p := newProvider()
	p.Labels = map[string]string{"team": "a"}
	labels, fields, err := provider.GetAttrs(p)
	if err != nil {
		t.Fatal(err)
	}
	if labels["team"] != "a" || fields["metadata.name"] != "p" || fields["metadata.namespace"] != "ns" {
		t.Errorf("attrs labels=%v fields=%v", labels, fields)
	}
	if _, _, err := provider.GetAttrs(&notification.Alert{}); err == nil {
		t.Errorf("GetAttrs accepted an Alert")
	}
}

func isReconciling(conds []metav1.Condition, generation int64) bool {
	ready := meta.FindStatusCondition(conds, "Ready")
	reconciling := meta.FindStatusCondition(conds, "Reconciling")
	return ready != nil && ready.Status == metav1.ConditionUnknown && ready.ObservedGeneration == generation &&
		reconciling != nil && reconciling.Status == metav1.ConditionTrue && reconciling.Reason == "Progressing"
}
