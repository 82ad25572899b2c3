package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	"github.com/notification-apiserver/notification-apiserver/pkg/receiver"
)

const fluxEventJSON = `{"involvedObject":{"kind":"Kustomization","namespace":"receiver","name":"webapp","uid":"7d0cdc51","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},
"severity":"error","timestamp":"2022-10-28T07:26:19Z","message":"MESSAGE","reason":"ValidationFailed",
"metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1","kustomize.toolkit.fluxcd.io/checksum":"x"},
"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`

func postEvent(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

// The receiver creates each event alone or, by default, sends those that
// arrive together as one EventBatch: senders see no difference.
var receiverModes = []struct {
	name     string
	maxBatch int
}{{"one create per event", 1}, {"batched", 100}}

func TestReceiverAnswersAsFluxDoes(t *testing.T) {
	for i, mode := range receiverModes {
		t.Run(mode.name, func(t *testing.T) {
			ns := fmt.Sprint("receiver-", i)
			testReceiverAnswersAsFluxDoes(t, ns, strings.ReplaceAll(fluxEventJSON, `"namespace":"receiver"`, `"namespace":"`+ns+`"`),
				&receiver.Handler{Client: client, MaxBatch: mode.maxBatch})
		})
	}
}

func testReceiverAnswersAsFluxDoes(t *testing.T, ns, fluxEventJSON string, h *receiver.Handler) {
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, body := postEvent(t, srv.URL+"/", strings.Replace(fluxEventJSON, "MESSAGE", "first", 1))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a Flux event: %d %s", resp.StatusCode, body)
	}
	list, err := client.NotificationV1beta2().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.name=webapp"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("stored events: %d, %v", len(list.Items), err)
	}
	e := list.Items[0]
	if e.Message != "first" || e.ReportingInstance != "kustomize-controller-7c7b47f5f-8bhrp" || e.InvolvedObject.UID != "7d0cdc51" ||
		e.Timestamp.UTC().Format(time.RFC3339) != "2022-10-28T07:26:19Z" || len(e.EventMetadata) != 1 {
		t.Errorf("stored %+v", e)
	}

	// Any path and method, as Flux's receiver.
	resp, body = postEvent(t, srv.URL+"/any/path", strings.Replace(fluxEventJSON, "MESSAGE", "second", 1))
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("another path: %d %s", resp.StatusCode, body)
	}

	resp, _ = postEvent(t, srv.URL+"/", strings.Replace(fluxEventJSON, "MESSAGE", "first", 1))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a duplicate: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if _, err := time.Parse(http.TimeFormat, resp.Header.Get("Retry-After")); err != nil {
		t.Errorf("Retry-After %q is not an HTTP date: %v", resp.Header.Get("Retry-After"), err)
	}

	for name, tc := range map[string]struct {
		body   string
		status int
		want   string
	}{
		"malformed JSON":      {`{"involvedObject":`, 400, "malformed JSON at byte"},
		"not JSON":            {`<xml/>`, 400, "malformed JSON"},
		"a wrong type":        {`{"severity": 3}`, 400, "field severity must be a string"},
		"missing fields":      {`{"severity":"info"}`, 400, "involvedObject.kind, involvedObject.name, involvedObject.namespace, message, reason, reportingController"},
		"a trace event":       {strings.Replace(strings.Replace(fluxEventJSON, "MESSAGE", "trace", 1), `"error"`, `"trace"`, 1), 400, "severity"},
		"over 3 MiB":          {`{"message":"` + strings.Repeat("a", receiver.MaxBodyBytes) + `"}`, 413, "exceeds"},
		"an invalid name":     {strings.Replace(strings.Replace(fluxEventJSON, "MESSAGE", "bad", 1), `"webapp"`, `"Web App"`, 1), 400, "involvedObject.name"},
		"an invalid UTF-8 fn": {"{\"message\":\"\xff\xfe\"}", 400, "lacks"},
	} {
		resp, body := postEvent(t, srv.URL, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q; want %d saying %q", name, resp.StatusCode, body, tc.status, tc.want)
		}
	}
}

func TestReceiverAsksToRetryWhenTheAPIIsDown(t *testing.T) {
	for _, mode := range receiverModes {
		t.Run(mode.name, func(t *testing.T) {
			down := httptest.NewServer(http.NotFoundHandler())
			down.Close()
			unreachable, err := versioned.NewForConfig(&rest.Config{Host: down.URL})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(&receiver.Handler{Client: unreachable, Timeout: 2 * time.Second, MaxBatch: mode.maxBatch})
			defer srv.Close()
			resp, body := postEvent(t, srv.URL, strings.Replace(fluxEventJSON, "MESSAGE", "lost?", 1))
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("API down: %d %s, want 503", resp.StatusCode, body)
			}
		})
	}
}

// While the kube-apiserver is down the server cannot review the
// receiver's token and answers 401: the sender is asked to retry.
func TestReceiverAsksToRetryWhenItCannotBeAuthenticated(t *testing.T) {
	for _, mode := range receiverModes {
		t.Run(mode.name, func(t *testing.T) {
			unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
			}))
			defer unauthorized.Close()
			c, err := versioned.NewForConfig(&rest.Config{Host: unauthorized.URL})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(&receiver.Handler{Client: c, Timeout: 2 * time.Second, MaxBatch: mode.maxBatch})
			defer srv.Close()
			resp, body := postEvent(t, srv.URL, strings.Replace(fluxEventJSON, "MESSAGE", "who am I?", 1))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("unauthenticated: %d %s (Retry-After %q), want 503 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
		})
	}
}

// The API refusing an event for now (429, as with --max-pending-events)
// makes the receiver answer 503 at once with the API's Retry-After, after
// one request: the sender retries, not the receiver while the sender waits.
func TestReceiverPassesTheAPIsRefusalOnToTheSender(t *testing.T) {
	for _, mode := range receiverModes {
		t.Run(mode.name, func(t *testing.T) {
			var requests atomic.Int32
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","code":429,`+
					`"message":"300 events await delivery, the most this server holds (--max-pending-events): retry later","details":{"retryAfterSeconds":1}}`)
			}))
			defer api.Close()
			refusing, err := versioned.NewForConfig(&rest.Config{Host: api.URL})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(&receiver.Handler{Client: refusing, Timeout: time.Minute, MaxBatch: mode.maxBatch})
			defer srv.Close()
			resp, body := postEvent(t, srv.URL, strings.Replace(fluxEventJSON, "MESSAGE", "refused", 1))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("API refusing: %d, Retry-After %q, %s; want 503 with the API's Retry-After 1", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("the receiver sent %d requests to the API, want 1", n)
			}
		})
	}
}

// Events posted together go to the API in a few EventBatches, each event
// stored once and answered on its own.
func TestReceiverBatchesEventsThatArriveTogether(t *testing.T) {
	ns := "receiver-together"
	var batches, creates atomic.Int32
	cfg := rest.CopyConfig(clientConfig)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/eventbatches"):
				batches.Add(1)
			case strings.HasSuffix(r.URL.Path, "/events"):
				creates.Add(1)
			}
			// A slow API: what arrives meanwhile must wait and go together.
			time.Sleep(20 * time.Millisecond)
			return rt.RoundTrip(r)
		})
	}
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&receiver.Handler{Client: c, MaxBatch: 100})
	defer srv.Close()
	const n = 60
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			body := strings.ReplaceAll(fluxEventJSON, `"namespace":"receiver"`, `"namespace":"`+ns+`"`)
			body = strings.Replace(body, "MESSAGE", fmt.Sprint("event ", i%(n/2)), 1) // each twice
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	accepted, duplicates := 0, 0
	for _, code := range codes {
		switch code {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
			duplicates++
		default:
			t.Errorf("answered %d", code)
		}
	}
	if accepted != n/2 || duplicates != n/2 {
		t.Errorf("%d accepted and %d duplicates, want %d of each", accepted, duplicates, n/2)
	}
	list, err := client.NotificationV1beta2().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != n/2 {
		t.Fatalf("stored %d events (%v), want %d", len(list.Items), err, n/2)
	}
	if b := batches.Load(); b == 0 || b > n/3 || creates.Load() != 0 {
		t.Errorf("%d batch requests and %d single creates for %d events, want a few batches", b, creates.Load(), n)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
