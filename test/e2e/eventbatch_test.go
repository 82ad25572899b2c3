package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRBACABatchNeedsCreateOnEventsToo: an EventBatch creates Events, so a
// user needs create on eventbatches and on events.notification in the
// namespace. With both, each item gets its own result and the Events are
// stored; with eventbatches alone the batch is refused whole.
func TestRBACABatchNeedsCreateOnEventsToo(t *testing.T) {
	ns := "e2e-rbac-batch"
	createNamespace(t, ns)
	mustKubectl(t, "-n", ns, "create", "role", "batch-only", "--verb=create", "--resource=eventbatches.notification.toolkit.fluxcd.io")
	mustKubectl(t, "-n", ns, "create", "rolebinding", "batch-only", "--role=batch-only", "--user=erin", "--user=frank")
	mustKubectl(t, "-n", ns, "create", "role", "event-poster", "--verb=create", "--resource=events.notification.toolkit.fluxcd.io")
	mustKubectl(t, "-n", ns, "create", "rolebinding", "event-poster", "--role=event-poster", "--user=frank")

	proxy := startProxy(t)
	item := func(message string) string {
		return fmt.Sprintf(`{"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","name":"apps","namespace":%q},
"severity":"info","timestamp":"2026-11-26T10:00:00Z","reason":"ReconciliationSucceeded","message":%q,"reportingController":"kustomize-controller"}`, ns, message)
	}
	post := func(user string, messages ...string) (int, string) {
		t.Helper()
		items := make([]string, len(messages))
		for i, m := range messages {
			items[i] = item(m)
		}
		batch := `{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"EventBatch","items":[` + strings.Join(items, ",") + `]}`
		return postAs(t, user, proxy+"/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/"+ns+"/eventbatches", batch)
	}

	// Grants reach the server through cached SubjectAccessReviews.
	var code int
	var body string
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, body = post("frank", "one", "two", "one"); code == http.StatusCreated || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code != http.StatusCreated {
		t.Fatalf("frank, with both grants, got %d: %s", code, body)
	}
	var answer struct {
		Results []struct {
			Name   string `json:"name"`
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Fatalf("the answer %s: %v", body, err)
	}
	if len(answer.Results) != 3 || answer.Results[0].Code != 201 || answer.Results[1].Code != 201 ||
		answer.Results[2].Code != 409 || answer.Results[2].Reason != "AlreadyExists" {
		t.Errorf("results %+v, want created, created, and the repeat refused as AlreadyExists", answer.Results)
	}

	code, body = post("erin", "three")
	if code != http.StatusForbidden || !strings.Contains(body, "permission to create events") {
		t.Errorf("erin, with create on eventbatches only, got %d: %s; want 403 saying events are needed", code, body)
	}
	messages := mustKubectl(t, "-n", ns, "get", "events.notification", "-o", "jsonpath={.items[*].message}")
	if fields := strings.Fields(messages); len(fields) != 2 || !strings.Contains(messages, "one") || !strings.Contains(messages, "two") {
		t.Errorf("events stored: %q, want one and two", messages)
	}
	// kubectl knows the resource, for create only.
	resources := mustKubectl(t, "api-resources", "--api-group=notification.toolkit.fluxcd.io", "-o", "wide")
	if !strings.Contains(resources, "eventbatches") {
		t.Errorf("kubectl api-resources lacks eventbatches:\n%s", resources)
	}
}
