package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/rest"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/scheme"
	"github.com/notification-apiserver/notification-apiserver/test/promtext"
)

// answer is what a test compares of an answer: the code, and either the
// Status (reason, message, the fields of its causes) or each item's result.
type answer struct {
	Code    int
	Reason  string
	Message string
	Causes  []string
	Results []string
}

// TestTheBatchPathAnswersAsTheFullChain: a protobuf create of an
// EventBatch takes the batch path (a shorter handler chain); with a query
// parameter the same request takes the full chain. Each request answers
// the same on both, whatever is wrong with it.
func TestTheBatchPathAnswersAsTheFullChain(t *testing.T) {
	ns := "batch-path"
	hc, err := rest.HTTPClientFor(clientConfig)
	if err != nil {
		t.Fatal(err)
	}
	url := clientConfig.Host + "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/" + ns + "/eventbatches"
	encoder := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	encode := func(obj runtime.Object) []byte {
		t.Helper()
		var buf bytes.Buffer
		if err := encoder.Encode(obj, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	batchOf := func(items ...*v1beta2.Event) *v1beta2.EventBatch {
		b := &v1beta2.EventBatch{TypeMeta: metav1.TypeMeta{APIVersion: "notification.toolkit.fluxcd.io/v1beta2", Kind: "EventBatch"}}
		for _, e := range items {
			b.Items = append(b.Items, *e)
		}
		return b
	}
	post := func(query string, body []byte) answer {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, url+query, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/vnd.kubernetes.protobuf")
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out struct {
			metav1.Status
			Results []v1beta2.EventBatchResult `json:"results"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("answer %d %q: %v", resp.StatusCode, data, err)
		}
		a := answer{Code: resp.StatusCode, Reason: string(out.Reason), Message: out.Message}
		if out.Details != nil {
			for _, c := range out.Details.Causes {
				a.Causes = append(a.Causes, c.Field)
			}
		}
		for _, r := range out.Results {
			a.Results = append(a.Results, strconv.Itoa(int(r.Code))+" "+r.Reason)
		}
		return a
	}

	invalid := func(message string) *v1beta2.Event {
		e := newEvent(ns, message)
		e.Severity = "warning"
		return e
	}
	elsewhere := batchOf(newEvent(ns, "ok"))
	elsewhere.Namespace = "elsewhere"
	provider := &v1beta2.Provider{
		TypeMeta:   metav1.TypeMeta{APIVersion: "notification.toolkit.fluxcd.io/v1beta2", Kind: "Provider"},
		ObjectMeta: metav1.ObjectMeta{Name: "slack"},
		Spec:       v1beta2.ProviderSpec{Type: "slack"},
	}
	huge := newEvent(ns, strings.Repeat("x", 4<<20))

	cases := []struct {
		name string
		// body makes the request's body; path tells the two apart where
		// the server must see different Events.
		body func(path string) []byte
		want int
	}{
		{"created, a duplicate, an invalid item", func(path string) []byte {
			return encode(batchOf(newEvent(ns, "one "+path), newEvent(ns, "one "+path), invalid("bad "+path)))
		}, http.StatusCreated},
		{"no items", func(string) []byte { return encode(batchOf()) }, http.StatusUnprocessableEntity},
		{"an item of another namespace", func(string) []byte {
			return encode(batchOf(newEvent(ns, "ok"), newEvent("elsewhere", "moved")))
		}, http.StatusUnprocessableEntity},
		{"a batch of another namespace", func(string) []byte { return encode(elsewhere) }, http.StatusBadRequest},
		{"not protobuf", func(string) []byte { return []byte(`{"kind":"EventBatch"}`) }, http.StatusBadRequest},
		{"truncated", func(string) []byte {
			b := encode(batchOf(newEvent(ns, "cut")))
			return b[:len(b)-7]
		}, http.StatusBadRequest},
		{"a Provider", func(string) []byte { return encode(provider) }, http.StatusBadRequest},
		{"over the body limit", func(string) []byte { return encode(batchOf(huge)) }, http.StatusRequestEntityTooLarge},
	}
	before := batchPathRequests(t, hc)
	// Both paths count their requests in apiserver_request_total alike.
	requests := func(code int) float64 {
		t.Helper()
		n, err := promtext.Sum(metricsText(t, hc), "apiserver_request_total",
			`resource="eventbatches"`, `verb="POST"`, `code="`+strconv.Itoa(code)+`"`)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	wantRequests := map[int]float64{}
	for _, tc := range cases {
		wantRequests[tc.want] += 2
	}
	requestsBefore := map[int]float64{}
	for code := range wantRequests {
		requestsBefore[code] = requests(code)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			short := post("", tc.body("short"))
			full := post("?fieldManager=full-chain", tc.body("full"))
			if short.Code != tc.want {
				t.Errorf("the batch path answered %+v, want %d", short, tc.want)
			}
			if !equalAnswers(short, full) {
				t.Errorf("the batch path answered\n%+v\nthe full chain\n%+v", short, full)
			}
		})
	}
	if got := batchPathRequests(t, hc) - before; got != float64(len(cases)) {
		t.Errorf("notification_batch_path_requests_total grew by %v, want %d: not every request without a query took the batch path", got, len(cases))
	}
	for code, want := range wantRequests {
		if got := requests(code) - requestsBefore[code]; got != want {
			t.Errorf("apiserver_request_total{code=%q} of eventbatches grew by %v, want %v (the full chain's and the batch path's)", strconv.Itoa(code), got, want)
		}
	}
	list, err := client.NotificationV1beta2().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Errorf("stored %d Events (%v), want the two created", len(list.Items), err)
	}
}

// equalAnswers: the same answer, but for the messages of the decoding
// errors, which carry the path's own words around the decoder's.
func equalAnswers(a, b answer) bool {
	if a.Code != b.Code || a.Reason != b.Reason || strings.Join(a.Causes, ",") != strings.Join(b.Causes, ",") ||
		strings.Join(a.Results, ",") != strings.Join(b.Results, ",") {
		return false
	}
	return a.Message == b.Message
}

// batchPathRequests sums notification_batch_path_requests_total.
func batchPathRequests(t *testing.T, hc *http.Client) float64 {
	t.Helper()
	return metricSum(t, hc, "notification_batch_path_requests_total")
}

// metricsText is the server's /metrics.
// metricSum sums the samples of the metric name on the server's /metrics
// whose labels hold each of match.
func metricSum(t *testing.T, hc *http.Client, name string, match ...string) float64 {
	t.Helper()
	n, err := promtext.Sum(metricsText(t, hc), name, match...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func metricsText(t *testing.T, hc *http.Client) string {
	t.Helper()
	resp, err := hc.Get(clientConfig.Host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// The etcd transactions that create Events are timed: a batch's one
// transaction counts once under write="create", whatever its size.
func TestEventCreateTransactionsAreTimed(t *testing.T) {
	ns := "write-duration"
	hc, err := rest.HTTPClientFor(clientConfig)
	if err != nil {
		t.Fatal(err)
	}
	counted := func() float64 {
		t.Helper()
		buckets, err := promtext.Histogram(metricsText(t, hc), "notification_event_write_duration_seconds", `write="create"`)
		if err != nil {
			t.Fatal(err)
		}
		if len(buckets) == 0 {
			return 0
		}
		return buckets[len(buckets)-1].Count
	}
	before := counted()
	batch := &v1beta2.EventBatch{Items: []v1beta2.Event{*newEvent(ns, "one"), *newEvent(ns, "two"), *newEvent(ns, "three")}}
	if _, err := client.NotificationV1beta2().EventBatches(ns).Create(t.Context(), batch, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := counted() - before; got != 1 {
		t.Errorf("the create transactions counted went up by %v after a batch of 3 was stored, want 1", got)
	}
}
