package notifier

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

func TestPagerDutyTriggersOnErrorsAndResolvesOtherwise(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	var bodies []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		data, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(data, &body)
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		bodies = append(bodies, body)
		mu.Unlock()
		if body["routing_key"] != "routing-key" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s := &settings.Settings{Type: "pagerduty", Address: srv.URL + "/path/ignored", Channel: "routing-key"}
	if err := post(t, s); err != nil { // an error event
		t.Fatal(err)
	}
	c, _ := NewClient(s, 0)
	n, _ := New(s, c)
	info := sampleEvent()
	info.Severity = "info"
	if err := n.Post(t.Context(), info); err != nil {
		t.Fatal(err)
	}
	progressing := sampleEvent()
	progressing.Reason = "Progressing"
	if err := n.Post(t.Context(), progressing); !IsSkip(err) {
		t.Errorf("a progress event: %v, want skipped", err)
	}
	want := []string{"POST /v2/enqueue", "POST /v2/enqueue", "POST /v2/change/enqueue"}
	if len(calls) != 3 || calls[0] != want[0] || calls[1] != want[1] || calls[2] != want[2] {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	if bodies[0]["event_action"] != "trigger" || bodies[0]["dedup_key"] != sampleEvent().InvolvedObject.UID || bodies[1]["event_action"] != "resolve" {
		t.Errorf("bodies %v", bodies)
	}
	payload, _ := bodies[0]["payload"].(map[string]any)
	if payload["summary"] != "validation failed: kustomization/webapp" || payload["severity"] != "error" {
		t.Errorf("trigger payload %v", payload)
	}
}

func TestDatadogSendsTheAPIKey(t *testing.T) {
	var key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Get("DD-API-KEY")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	if err := post(t, &settings.Settings{Type: "datadog", Address: srv.URL, Token: "dd-key"}); err != nil {
		t.Fatal(err)
	}
	if key != "dd-key" {
		t.Errorf("DD-API-KEY %q", key)
	}
}
