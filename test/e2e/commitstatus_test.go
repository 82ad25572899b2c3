package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestACommitStatusIsPostedOnce(t *testing.T) {
	ns := "e2e-commit"
	createNamespace(t, ns)
	const sha = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"
	var mu sync.Mutex
	var statuses []map[string]any
	var lists int
	// A strict GitHub Enterprise stand-in: list and create statuses.
	github := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer ghp-e2e" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v3/repos/org/app/commits/"+sha+"/statuses":
			lists++
			newestFirst := make([]map[string]any, 0, len(statuses))
			for i := len(statuses) - 1; i >= 0; i-- {
				newestFirst = append(newestFirst, statuses[i])
			}
			_ = json.NewEncoder(w).Encode(newestFirst)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v3/repos/org/app/statuses/"+sha:
			var s map[string]any
			body, _ := io.ReadAll(r.Body)
			if json.Unmarshal(body, &s) != nil || s["state"] == nil || s["context"] == nil {
				w.WriteHeader(http.StatusUnprocessableEntity)
				return
			}
			statuses = append(statuses, s)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{}`)
		default:
			t.Errorf("GitHub stand-in: %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer github.Close()

	mustKubectl(t, "-n", ns, "create", "secret", "generic", "github-token", "--from-literal=token=ghp-e2e")
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: github, namespace: e2e-commit}
spec:
  type: github
  address: `+github.URL+`/org/app
  secretRef: {name: github-token}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: commits, namespace: e2e-commit}
spec:
  providerRef: {name: github}
  eventSources: [{kind: Kustomization, name: '*'}]
`))
	waitFor(t, ns, "alert/commits", "condition=Ready")
	base := startProxy(t) + "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/e2e-commit/events"
	post := func(message string) string {
		t.Helper()
		event := `{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","metadata":{"namespace":"e2e-commit"},
"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","name":"apps","namespace":"e2e-commit"},
"severity":"info","timestamp":"2026-11-26T10:00:00Z","reason":"ReconciliationSucceeded","message":"` + message + `",
"eventMetadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:` + sha + `"},"reportingController":"kustomize-controller"}`
		resp, err := http.Post(base, "application/json", strings.NewReader(event))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var created struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&created) != nil {
			t.Fatalf("POST answered %d", resp.StatusCode)
		}
		return created.Metadata.Name
	}
	first := post("Applied revision: main@sha1:" + sha)
	waitFor(t, ns, "events.notification/"+first, `jsonpath={.status.deliveries[0].state}=Delivered`)
	// Another event of the same revision and outcome: delivered, but the
	// status is already there, so nothing is posted again.
	second := post("Reconciliation finished in 1.2s, next run in 10m")
	waitFor(t, ns, "events.notification/"+second, `jsonpath={.status.deliveries[0].state}=Delivered`)
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(statuses) != 1 || lists != 2 {
		t.Fatalf("%d statuses posted after %d lists, want 1 after 2: %v", len(statuses), lists, statuses)
	}
	if statuses[0]["state"] != "success" || statuses[0]["context"] != "kustomization/apps" || statuses[0]["description"] != "reconciliation succeeded" {
		t.Errorf("status %v", statuses[0])
	}
}
