package notifier

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// sentryFake checks an envelope as Sentry documents it: POST
// /api/<project>/envelope/, X-Sentry-Auth with the DSN's public key, a
// newline-delimited envelope whose item has the expected type.
func sentryFake(t *testing.T, items *[]map[string]any, types *[]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/42/envelope/" || !strings.Contains(r.Header.Get("X-Sentry-Auth"), "sentry_key=publickey") {
			t.Errorf("Sentry fake: %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("X-Sentry-Auth"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) < 3 {
			t.Errorf("envelope of %d lines", len(lines))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var itemHeader struct{ Type string }
		var item map[string]any
		if json.Unmarshal([]byte(lines[1]), &itemHeader) != nil || json.Unmarshal([]byte(lines[2]), &item) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		*types = append(*types, itemHeader.Type)
		*items = append(*items, item)
		w.WriteHeader(http.StatusOK)
	}
}

func TestSentryErrorIsAnEventAndInfoATransaction(t *testing.T) {
	var items []map[string]any
	var types []string
	srv := httptest.NewServer(sentryFake(t, &items, &types))
	defer srv.Close()
	dsn := strings.Replace(srv.URL, "http://", "http://publickey@", 1) + "/42"
	s := &settings.Settings{Type: "sentry", Address: dsn, Channel: "production"}

	if err := post(t, s); err != nil { // sampleEvent is an error
		t.Fatal(err)
	}
	c, _ := NewClient(s, 0)
	n, _ := New(s, c)
	info := sampleEvent()
	info.Severity = "info"
	if err := n.Post(t.Context(), info); err != nil {
		t.Fatal(err)
	}
	if len(types) != 2 || types[0] != "event" || types[1] != "transaction" {
		t.Fatalf("item types %v, want event then transaction", types)
	}
	event, tx := items[0], items[1]
	contexts, _ := event["contexts"].(map[string]any)
	metadata, _ := contexts["metadata"].(map[string]any)
	if event["level"] != "error" || event["environment"] != "production" || event["message"] != sampleEvent().Message || metadata["revision"] == nil {
		t.Errorf("event %v", event)
	}
	spans, _ := tx["spans"].([]any)
	if tx["transaction"] != "kustomization/webapp.apps" || tx["environment"] != "production" || len(spans) != 1 {
		t.Fatalf("transaction %v", tx)
	}
	span := spans[0].(map[string]any)
	tags, _ := span["tags"].(map[string]any)
	if span["description"] != info.Message || tags["summary"] != "prod cluster" {
		t.Errorf("span %v", span)
	}
}

func TestSentryFailuresAreReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	dsn := strings.Replace(srv.URL, "http://", "http://publickey@", 1) + "/42"
	if err := post(t, &settings.Settings{Type: "sentry", Address: dsn}); err == nil || !Retryable(err) {
		t.Errorf("err %v, want a retryable failure", err)
	}
}
