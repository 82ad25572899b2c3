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

// slackStandIn checks what Slack's chat.postMessage documents: POST,
// /api/chat.postMessage, a Bearer token, a JSON body with a channel.
type slackStandIn struct {
	t        *testing.T
	token    string
	mu       sync.Mutex
	messages []map[string]any
}

func (s *slackStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/api/chat.postMessage" {
		s.t.Errorf("Slack stand-in: %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.t.Errorf("Slack stand-in: content type %q", r.Header.Get("Content-Type"))
	}
	var msg map[string]any
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || msg["channel"] == nil {
		io.WriteString(w, `{"ok":false,"error":"invalid_arguments"}`)
		return
	}
	s.messages = append(s.messages, msg)
	io.WriteString(w, `{"ok":true,"channel":"C123","ts":"1503435956.000247"}`)
}

func (s *slackStandIn) received() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.messages...)
}

func TestSlackExampleEndToEnd(t *testing.T) {
	ns := "e2e-slack"
	createNamespace(t, ns)
	slack := &slackStandIn{t: t, token: "xoxb-e2e-slack-token"}
	srv := httptest.NewServer(slack)
	defer srv.Close()

	mustKubectl(t, "-n", ns, "create", "secret", "generic", "slack-bot-token", "--from-literal=token="+slack.token)
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: slack-bot, namespace: e2e-slack}
spec:
  type: slack
  channel: general
  address: `+srv.URL+`/api/chat.postMessage
  secretRef: {name: slack-bot-token}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: slack, namespace: e2e-slack}
spec:
  summary: "Flagger impacted in us-east-2"
  providerRef: {name: slack-bot}
  eventSeverity: error
  eventSources:
    - kind: HelmRepository
      name: '*'
    - kind: HelmRelease
      name: '*'
`))
	waitFor(t, ns, "provider/slack-bot", "condition=Ready")
	waitFor(t, ns, "alert/slack", "condition=Ready")

	event := `{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","metadata":{"namespace":"e2e-slack"},
"involvedObject":{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","name":"flagger","namespace":"e2e-slack"},
"severity":"error","timestamp":"2026-11-26T10:00:00Z","reason":"UpgradeFailed",
"message":"Helm upgrade failed: timed out waiting for the condition",
"eventMetadata":{"helm.toolkit.fluxcd.io/revision":"1.38.0"},"reportingController":"helm-controller"}`
	base := startProxy(t) + "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/e2e-slack/events"
	resp, err := http.Post(base, "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST of the event answered %d: %s", resp.StatusCode, body)
	}
	var created struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.Metadata.Name == "" {
		t.Fatalf("created %s: %v", body, err)
	}

	// The same event again is a duplicate.
	resp, err = http.Post(base, "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("the repeated event answered %d, want 409", resp.StatusCode)
	}

	waitFor(t, ns, "events.notification/"+created.Metadata.Name, `jsonpath={.status.deliveries[0].state}=Delivered`)
	time.Sleep(time.Second) // a second delivery would show by now
	msgs := slack.received()
	if len(msgs) != 1 {
		t.Fatalf("Slack got %d messages, want 1", len(msgs))
	}
	if msgs[0]["channel"] != "general" {
		t.Errorf("channel %v", msgs[0]["channel"])
	}
	raw, _ := json.Marshal(msgs[0])
	for _, want := range []string{"Flagger impacted in us-east-2", "helmrelease/flagger.e2e-slack", "Helm upgrade failed", `"color":"danger"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the Slack message lacks %q: %s", want, raw)
		}
	}

	out := mustKubectl(t, "get", "events.notification", "-n", ns)
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	if strings.Join(header, " ") != "NAME SEVERITY REASON OBJECT DELIVERED AGE" || !strings.Contains(out, "helmrelease/flagger") || !strings.Contains(out, "1/1") {
		t.Errorf("kubectl get events.notification:\n%s", out)
	}
}

func TestASinkFailingThreeTimesGetsTheEventOnce(t *testing.T) {
	ns := "e2e-flaky"
	createNamespace(t, ns)
	var mu sync.Mutex
	var requests, accepted int
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		if requests <= 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		accepted++
	}))
	defer sink.Close()
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: flaky, namespace: e2e-flaky}
spec: {type: generic, address: "`+sink.URL+`"}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: all, namespace: e2e-flaky}
spec:
  providerRef: {name: flaky}
  eventSources: [{kind: Kustomization, name: '*'}]
`))
	// Routing takes the Alerts the server has seen when the event comes.
	waitFor(t, ns, "alert/all", "condition=Ready")
	mustKubectl(t, "create", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Event
metadata: {namespace: e2e-flaky, name: flaky-event}
involvedObject: {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: apps, namespace: e2e-flaky}
severity: error
timestamp: "2026-11-26T10:00:00Z"
reason: HealthCheckFailed
message: "health check failed after 30s"
reportingController: kustomize-controller
`))
	waitFor(t, ns, "events.notification/flaky-event", `jsonpath={.status.deliveries[0].state}=Delivered`)
	attempts := mustKubectl(t, "-n", ns, "get", "events.notification/flaky-event", "-o", "jsonpath={.status.deliveries[0].attempts}")
	mu.Lock()
	defer mu.Unlock()
	if attempts != "4" || requests != 4 || accepted != 1 {
		t.Errorf("attempts %s, requests %d, accepted %d; want 4, 4, 1", attempts, requests, accepted)
	}
}
