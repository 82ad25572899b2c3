package e2e

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEveryAlertingTypeIsDelivered applies one Provider of each alerting type,
// posts one event through the API, and checks every delivery: googlepubsub
// goes to the real Pub/Sub emulator; azureeventhub to a TLS fake on
// loopback named by a SAS connection string (its CA from certSecretRef).
func TestEveryAlertingTypeIsDelivered(t *testing.T) {
	ns := "e2e-types"
	createNamespace(t, ns)
	var mu sync.Mutex
	seen := map[string]bool{}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.Path] = true
		mu.Unlock()
		// Slack's and Telegram's ok, Lark's code: every service's success.
		io.WriteString(w, `{"ok":true,"code":0,"result":{}}`)
	}))
	defer fake.Close()
	base := fake.URL
	host := strings.TrimPrefix(base, "http://")

	types := []struct{ typ, address, channel, secret, want string }{
		{"generic", base + "/generic", "", "", "POST /generic"},
		{"generic-hmac", base + "/hmac", "", "hmac-key", "POST /hmac"},
		{"slack", base + "/slack/api/chat.postMessage", "general", "xoxb-token", "POST /slack/api/chat.postMessage"},
		{"discord", base + "/discord/api/webhooks/1/t", "", "", "POST /discord/api/webhooks/1/t/slack"},
		{"rocket", base + "/rocket/hooks/x/y", "#flux", "", "POST /rocket/hooks/x/y"},
		{"msteams", base + "/teams/workflows/x?sig=abc", "", "", "POST /teams/workflows/x"},
		{"googlechat", base + "/chat/v1/spaces/A/messages?key=k", "", "", "POST /chat/v1/spaces/A/messages"},
		{"webex", base + "/webex/v1/messages", "room", "webex-token", "POST /webex/v1/messages"},
		{"telegram", base + "/telegram", "-100123", "123:ABC", "POST /telegram/bot123:ABC/sendMessage"},
		{"lark", base + "/lark/hook", "", "", "POST /lark/hook"},
		{"matrix", base + "/matrix", "!room:example.org", "syt-token", "PUT /matrix/_matrix/client/r0/rooms/!room:example.org/send/m.room.message/"},
		{"opsgenie", base + "/opsgenie/v2/alerts", "", "genie-key", "POST /opsgenie/v2/alerts"},
		{"alertmanager", base + "/am/api/v2/alerts", "", "", "POST /am/api/v2/alerts"},
		{"grafana", base + "/grafana/api/annotations", "", "", "POST /grafana/api/annotations"},
		{"githubdispatch", base + "/org/repo", "", "ghp-token", "POST /api/v3/repos/org/repo/dispatches"},
		{"sentry", "http://publickey@" + host + "/42", "production", "", "POST /api/42/envelope/"},
		{"pagerduty", base + "/ignored", "routing-key", "", "POST /v2/enqueue"},
		{"datadog", base, "", "dd-key", "POST /api/v1/events"},
	}
	// The Pub/Sub topic and a subscription to read the message back.
	pubsub := "http://" + pubsubHost + "/v1/projects/e2e-project"
	for _, call := range []struct{ path, body string }{
		{"/topics/flux-events", `{}`},
		{"/subscriptions/flux-sub", `{"topic":"projects/e2e-project/topics/flux-events"}`},
	} {
		req, _ := http.NewRequest(http.MethodPut, pubsub+call.path, strings.NewReader(call.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %d", call.path, resp.StatusCode)
		}
	}
	types = append(types, struct{ typ, address, channel, secret, want string }{"googlepubsub", "e2e-project", "flux-events", "", ""})

	// Azure Event Hubs: a TLS fake that checks the SAS-signed send.
	var hubMu sync.Mutex
	var hubSends int
	hub := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/flux-hub/messages" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "SharedAccessSignature sr=") || !strings.Contains(r.Header.Get("Authorization"), "skn=send") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hubMu.Lock()
		hubSends++
		hubMu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer hub.Close()
	hubCA := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hub.Certificate().Raw}))
	hubAddress := "Endpoint=sb://" + strings.TrimPrefix(hub.URL, "https://") + "/;SharedAccessKeyName=send;SharedAccessKey=a2V5;EntityPath=flux-hub"

	var manifest strings.Builder
	fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Secret
metadata: {name: p-azureeventhub, namespace: %s}
stringData:
  address: %q
---
apiVersion: v1
kind: Secret
metadata: {name: hub-ca, namespace: %s}
stringData:
  ca.crt: %q
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: p-azureeventhub, namespace: %s}
spec:
  type: azureeventhub
  secretRef: {name: p-azureeventhub}
  certSecretRef: {name: hub-ca}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: p-azureeventhub, namespace: %s}
spec:
  providerRef: {name: p-azureeventhub}
  eventSources: [{kind: Kustomization, name: '*'}]
`, ns, hubAddress, ns, hubCA, ns, ns)
	for _, tc := range types {
		name := "p-" + tc.typ
		fmt.Fprintf(&manifest, "---\napiVersion: notification.toolkit.fluxcd.io/v1beta2\nkind: Provider\nmetadata: {name: %s, namespace: %s}\nspec:\n  type: %s\n  address: %q\n", name, ns, tc.typ, tc.address)
		if tc.channel != "" {
			fmt.Fprintf(&manifest, "  channel: %q\n", tc.channel)
		}
		if tc.secret != "" {
			fmt.Fprintf(&manifest, "  secretRef: {name: %s}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\nstringData: {token: %q}\n", name, name, ns, tc.secret)
		}
		fmt.Fprintf(&manifest, "---\napiVersion: notification.toolkit.fluxcd.io/v1beta2\nkind: Alert\nmetadata: {name: %s, namespace: %s}\nspec:\n  providerRef: {name: %s}\n  eventSources: [{kind: Kustomization, name: '*'}]\n", name, ns, name)
	}
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, manifest.String()))
	// Routing takes the Alerts the server has seen when the event comes.
	if out, err := kubectl(t, "-n", ns, "wait", "alerts", "--all", "--for=condition=Ready", "--timeout=90s"); err != nil {
		status, _ := kubectl(t, "-n", ns, "get", "alerts,providers")
		t.Fatalf("the Alerts never became Ready: %v\n%s\n%s", err, out, status)
	}
	mustKubectl(t, "create", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Event
metadata: {namespace: e2e-types, name: to-everyone}
involvedObject: {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: apps, namespace: e2e-types}
severity: error
timestamp: "2026-11-26T10:00:00Z"
reason: ReconciliationFailed
message: "kustomize build failed"
eventMetadata: {kustomize.toolkit.fluxcd.io/revision: "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"}
reportingController: kustomize-controller
`))
	want := fmt.Sprintf("%d/%d", len(types)+1, len(types)+1) // and azureeventhub
	deadline := time.Now().Add(90 * time.Second)
	for {
		out := mustKubectl(t, "get", "events.notification", "-n", ns, "to-everyone", "--no-headers")
		if strings.Contains(out, want) {
			break
		}
		if time.Now().After(deadline) {
			status, _ := kubectl(t, "get", "events.notification", "-n", ns, "to-everyone", "-o", "jsonpath={.status}")
			t.Fatalf("not every type delivered:\n%s\n%s", out, status)
		}
		time.Sleep(500 * time.Millisecond)
	}
	resp, err := http.Post(pubsub+"/subscriptions/flux-sub:pull", "application/json", strings.NewReader(`{"maxMessages":10}`))
	if err != nil {
		t.Fatal(err)
	}
	pulled, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(pulled), `"data"`) {
		t.Errorf("nothing pulled from the Pub/Sub subscription: %s", pulled)
	}
	hubMu.Lock()
	if hubSends != 1 {
		t.Errorf("the Event Hub fake got %d sends, want 1", hubSends)
	}
	hubMu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	for _, tc := range types {
		if tc.want == "" {
			continue // not on the fake
		}
		found := false
		for k := range seen {
			if strings.HasPrefix(k, tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the fake never saw %s (it saw %v)", tc.typ, tc.want, seen)
		}
	}
}
