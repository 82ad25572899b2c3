package notifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleEvent() Event {
	return Event{
		InvolvedObject: ObjectReference{
			Kind: "Kustomization", Namespace: "apps", Name: "webapp",
			UID: "7d0cdc51-ddcf-4743-b223-83ca5c699632", APIVersion: "kustomize.toolkit.fluxcd.io/v1",
		},
		Severity:            "error",
		Timestamp:           metav1.NewTime(time.Date(2022, 10, 28, 7, 26, 19, 0, time.UTC)),
		Message:             "service/apps/webapp validation error: spec.type: Unsupported value: Ingress\nsecond line",
		Reason:              "ValidationFailed",
		Metadata:            map[string]string{"revision": "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1", "summary": "prod cluster"},
		ReportingController: "kustomize-controller",
		ReportingInstance:   "kustomize-controller-7c7b47f5f-8bhrp",
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var indented map[string]any
	if err := json.Unmarshal(got, &indented); err != nil {
		t.Fatalf("%s is not JSON: %v", name, err)
	}
	pretty, _ := json.MarshalIndent(indented, "", "  ")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(pretty, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run with -update to write it): %v", path, err)
	}
	if strings.TrimSpace(string(want)) != strings.TrimSpace(string(pretty)) {
		t.Errorf("%s differs:\ngot  %s\nwant %s", name, pretty, want)
	}
}

// sink records the requests it gets and answers with the given statuses in turn.
type sink struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	answers  []int
	body     string
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.bodies = append(s.bodies, body)
	status := http.StatusOK
	if n := len(s.requests) - 1; n < len(s.answers) {
		status = s.answers[n]
	}
	s.mu.Unlock()
	w.WriteHeader(status)
	io.WriteString(w, s.body)
}

func post(t *testing.T, s *settings.Settings) error {
	t.Helper()
	c, err := NewClient(s, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(s, c)
	if err != nil {
		t.Fatal(err)
	}
	return n.Post(context.Background(), sampleEvent())
}

func TestGenericPostsTheEventJSON(t *testing.T) {
	sk := &sink{}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	err := post(t, &settings.Settings{Type: "generic", Address: srv.URL + "/hook", Headers: map[string]string{"X-Team": "platform", "Gotk-Component": "overridden"}})
	if err != nil {
		t.Fatal(err)
	}
	r := sk.requests[0]
	if r.Method != http.MethodPost || r.URL.Path != "/hook" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s content type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	if r.Header.Get("X-Team") != "platform" || r.Header.Get("Gotk-Component") != "overridden" {
		t.Errorf("headers %v: the Secret's headers must be set, overriding", r.Header)
	}
	if r.Header.Get("X-Signature") != "" {
		t.Errorf("generic sent a signature")
	}
	golden(t, "generic.json", sk.bodies[0])
}

func TestGenericHMACSignsTheBody(t *testing.T) {
	sk := &sink{}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	key := "hmac-key-0123456789"
	if err := post(t, &settings.Settings{Type: "generic-hmac", Address: srv.URL, Token: key}); err != nil {
		t.Fatal(err)
	}
	sig := sk.requests[0].Header.Get("X-Signature")
	// Verify as a receiver would, independently of Sign.
	algo, hexSum, ok := strings.Cut(sig, "=")
	if !ok || algo != "sha256" {
		t.Fatalf("X-Signature %q, want sha256=<hex>", sig)
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(sk.bodies[0])
	if !hmac.Equal(got, mac.Sum(nil)) {
		t.Errorf("the signature does not verify against the body")
	}
	if sk.requests[0].Header.Get("Gotk-Component") != "kustomize-controller" {
		t.Errorf("Gotk-Component %q", sk.requests[0].Header.Get("Gotk-Component"))
	}
}

func TestSlackChatPostMessage(t *testing.T) {
	sk := &sink{body: `{"ok":true}`}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	token := "xoxb-1234567890-abcdef"
	if err := post(t, &settings.Settings{Type: "slack", Address: srv.URL + "/api/chat.postMessage", Channel: "general", Token: token}); err != nil {
		t.Fatal(err)
	}
	r := sk.requests[0]
	if r.Header.Get("Authorization") != "Bearer "+token || r.URL.Path != "/api/chat.postMessage" {
		t.Errorf("Authorization %q path %s", r.Header.Get("Authorization"), r.URL.Path)
	}
	golden(t, "slack.json", sk.bodies[0])
}

func TestSlackErrorsAreReportedWithoutTheToken(t *testing.T) {
	sk := &sink{body: `{"ok":false,"error":"channel_not_found"}`}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	err := post(t, &settings.Settings{Type: "slack", Address: srv.URL + "/api/chat.postMessage", Channel: "nope", Token: "xoxb-secret"})
	if err == nil || Retryable(err) || !strings.Contains(err.Error(), "channel_not_found") {
		t.Errorf("err %v: want a permanent channel_not_found", err)
	}
}

func TestSlackIncomingWebhookUsesItsChannelAndUsername(t *testing.T) {
	sk := &sink{body: "ok"}
	srv := httptest.NewServer(sk)
	defer srv.Close()
	if err := post(t, &settings.Settings{Type: "slack", Address: srv.URL + "/services/T0/B0/XXXX", Username: "flux-bot"}); err != nil {
		t.Fatal(err)
	}
	var payload struct {
		Channel  string `json:"channel"`
		Username string `json:"username"`
	}
	if err := json.Unmarshal(sk.bodies[0], &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Username != "flux-bot" || sk.requests[0].Header.Get("Authorization") != "" {
		t.Errorf("username %q authorization %q", payload.Username, sk.requests[0].Header.Get("Authorization"))
	}
}

func TestFailuresSayWhetherToRetry(t *testing.T) {
	for status, retry := range map[int]bool{500: true, 502: true, 503: true, 429: true, 408: true, 400: false, 401: false, 404: false} {
		sk := &sink{answers: []int{status}, body: "nope"}
		srv := httptest.NewServer(sk)
		err := post(t, &settings.Settings{Type: "generic", Address: srv.URL + "/x?token=s3cr3t-in-query"})
		srv.Close()
		if err == nil || Retryable(err) != retry {
			t.Errorf("%d: err %v, retryable %v, want %v", status, err, Retryable(err), retry)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%d: error %q shows the address's token", status, err)
		}
	}
}

func TestNetworkErrorsAreRetriedAndRedacted(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL + "/hooks/s3cr3t-path-token"
	srv.Close() // nothing listens there now
	err := post(t, &settings.Settings{Type: "generic", Address: addr})
	if err == nil || !Retryable(err) {
		t.Fatalf("err %v: want a retryable error", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q shows the address", err)
	}
}

func TestProxyIsUsed(t *testing.T) {
	var proxied []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied = append(proxied, r.URL.String()) // a forward proxy sees the absolute URL
		w.WriteHeader(http.StatusOK)
	}))
	defer proxy.Close()
	if err := post(t, &settings.Settings{Type: "generic", Address: "http://receiver.example.com/hook", Proxy: proxy.URL}); err != nil {
		t.Fatal(err)
	}
	if len(proxied) != 1 || proxied[0] != "http://receiver.example.com/hook" {
		t.Errorf("the proxy saw %v", proxied)
	}
}

func TestCustomCAIsTrusted(t *testing.T) {
	sk := &sink{}
	srv := httptest.NewTLSServer(sk)
	defer srv.Close()
	// Without the CA the self-signed server is refused...
	if err := post(t, &settings.Settings{Type: "generic", Address: srv.URL}); err == nil {
		t.Fatal("an unknown CA was trusted")
	}
	// ...with it, trusted.
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	if err := post(t, &settings.Settings{Type: "generic", Address: srv.URL, RootCAs: pool}); err != nil {
		t.Errorf("with the CA: %v", err)
	}
}

func TestUnknownTypesFailPermanently(t *testing.T) {
	_, err := New(&settings.Settings{Type: "nats"}, nil)
	if err == nil || Retryable(err) {
		t.Errorf("err %v", err)
	}
}
