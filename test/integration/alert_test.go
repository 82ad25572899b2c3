package integration

import (
	"encoding/json"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func newAlert(ns, name string) *v1beta2.Alert {
	return &v1beta2.Alert{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1beta2.AlertSpec{
			Summary:     "Flagger impacted in us-east-2",
			ProviderRef: v1beta2.LocalObjectReference{Name: "slack-bot"},
			EventSources: []v1beta2.CrossNamespaceObjectReference{
				{Kind: "HelmRepository", Name: "*"},
				{Kind: "HelmRelease", Name: "*", MatchLabels: map[string]string{"app": "web"}},
			},
		},
	}
}

func TestAlertLifecycle(t *testing.T) {
	ns := "alerts"
	alerts := client.NotificationV1beta2().Alerts(ns)
	created, err := alerts.Create(t.Context(), newAlert(ns, "slack"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Spec.EventSeverity != "info" {
		t.Errorf("eventSeverity = %q, want the info default", created.Spec.EventSeverity)
	}
	if len(created.Spec.EventSources) != 2 || created.Spec.EventSources[1].MatchLabels["app"] != "web" {
		t.Errorf("eventSources read back as %+v", created.Spec.EventSources)
	}

	var updated *v1beta2.Alert
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := alerts.Get(t.Context(), "slack", metav1.GetOptions{})
		if err != nil {
			return err
		}
		current.Spec.EventSeverity = "error"
		updated, err = alerts.Update(t.Context(), current, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Generation != 2 {
		t.Errorf("generation = %d after a spec change, want 2", updated.Generation)
	}

	withStatus := updated.DeepCopy()
	withStatus.ResourceVersion = "" // unconditional: the reconciler writes status too
	withStatus.Spec.Suspend = true
	withStatus.Status.LastHandledReconcileAt = "by-the-test"
	afterStatus, err := alerts.UpdateStatus(t.Context(), withStatus, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if afterStatus.Spec.Suspend || afterStatus.Status.LastHandledReconcileAt != "by-the-test" {
		t.Errorf("status write: spec.suspend=%v status=%+v", afterStatus.Spec.Suspend, afterStatus.Status)
	}

	if err := alerts.Delete(t.Context(), "slack", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

func TestAlertInvalidIsRefusedWithFieldPaths(t *testing.T) {
	ns := "alerts-invalid"
	a := newAlert(ns, "bad")
	a.Spec.EventSeverity = "warning"
	a.Spec.EventSources[0].Namespace = "*"
	a.Spec.EventSources[1].Kind = "Deployment"
	a.Spec.InclusionList = []string{"ok", "(unclosed"}
	_, err := client.NotificationV1beta2().Alerts(ns).Create(t.Context(), a, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422 Invalid", err)
	}
	fields := causeFields(err)
	for _, want := range []string{"spec.eventSeverity", "spec.eventSources[0].namespace", "spec.eventSources[1].kind", "spec.inclusionList[1]"} {
		if !fields[want] {
			t.Errorf("causes %v lack %s", fields, want)
		}
	}
}

func TestTablesShowAgeReadyStatus(t *testing.T) {
	ns := "tables"
	if _, err := client.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "slack-bot"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := client.NotificationV1beta2().Alerts(ns).Create(t.Context(), newAlert(ns, "slack"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create alert: %v", err)
	}

	for resource, name := range map[string]string{"providers": "slack-bot", "alerts": "slack"} {
		// includeObject=Object puts each row's object beside its cells, so the
		// cells can be checked against the conditions they were made from.
		raw, err := client.NotificationV1beta2().RESTClient().Get().Namespace(ns).Resource(resource).
			Param("includeObject", "Object").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(t.Context())
		if err != nil {
			t.Fatalf("get %s as table: %v", resource, err)
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil {
			t.Fatalf("decoding table: %v", err)
		}
		var cols []string
		for _, c := range table.ColumnDefinitions {
			cols = append(cols, c.Name)
		}
		if len(cols) != 4 || cols[0] != "Name" || cols[1] != "Age" || cols[2] != "Ready" || cols[3] != "Status" {
			t.Errorf("%s columns %v, want Name Age Ready Status", resource, cols)
		}
		if len(table.Rows) != 1 {
			t.Fatalf("%s: %d rows, want 1", resource, len(table.Rows))
		}
		var obj struct {
			Status struct{ Conditions []metav1.Condition } `json:"status"`
		}
		if err := json.Unmarshal(table.Rows[0].Object.Raw, &obj); err != nil {
			t.Fatalf("decoding the row's object: %v", err)
		}
		ready := meta.FindStatusCondition(obj.Status.Conditions, "Ready")
		if ready == nil {
			t.Fatalf("%s has no Ready condition", resource)
		}
		cells := table.Rows[0].Cells
		if cells[0] != name || cells[2] != string(ready.Status) || cells[3] != ready.Message {
			t.Errorf("%s row %v, want name %s ready %s status %q", resource, cells, name, ready.Status, ready.Message)
		}
		if age, _ := cells[1].(string); age == "" || age == "<unknown>" {
			t.Errorf("%s age %q", resource, cells[1])
		}
	}
}
