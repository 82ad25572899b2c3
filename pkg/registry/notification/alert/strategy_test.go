package alert

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// The strategies are tested once, on Providers, in package reconciled;
// these check that Kind wires the Alert's spec and status right.

func alert() *notification.Alert {
	return &notification.Alert{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", Generation: 2},
		Spec:       notification.AlertSpec{EventSeverity: "info", Summary: "old"},
		Status:     notification.AlertStatus{ObservedGeneration: 2, LastHandledReconcileAt: "then"},
	}
}

func TestSpecChangesBumpTheGenerationAndKeepTheStatus(t *testing.T) {
	old, a := alert(), alert()
	a.Spec.Summary = "new"
	a.Status = notification.AlertStatus{}
	NewStrategy(runtime.NewScheme()).PrepareForUpdate(context.Background(), a, old)
	if a.Generation != 3 || a.Status.LastHandledReconcileAt != "then" {
		t.Errorf("generation %d status %+v", a.Generation, a.Status)
	}
}

func TestStatusWritesKeepTheSpec(t *testing.T) {
	old, a := alert(), alert()
	a.Spec.Summary = "sneaky"
	a.Status.ObservedGeneration = 1
	NewStatusStrategy(runtime.NewScheme()).PrepareForUpdate(context.Background(), a, old)
	if a.Spec.Summary != "old" || a.Status.ObservedGeneration != 1 {
		t.Errorf("spec %+v status %+v", a.Spec, a.Status)
	}
}

func TestCreateResetsTheStatus(t *testing.T) {
	a := alert()
	NewStrategy(runtime.NewScheme()).PrepareForCreate(context.Background(), a)
	if a.Status.LastHandledReconcileAt != "" || a.Generation != 1 || len(a.Status.Conditions) != 2 {
		t.Errorf("status %+v generation %d", a.Status, a.Generation)
	}
}

func TestGetAttrs(t *testing.T) {
	labels, fields, err := GetAttrs(alert())
	if err != nil || fields["metadata.name"] != "a" || labels != nil {
		t.Errorf("labels %v fields %v err %v", labels, fields, err)
	}
	if _, _, err := GetAttrs(&notification.Provider{}); err == nil {
		t.Error("GetAttrs accepted a Provider")
	}
}
