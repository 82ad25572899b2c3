package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/scheme"
)

// TestRBACABatchNeedsCreateOnEventsToo: an EventBatch creates Events, so a
// user needs create on eventbatches and on events.notification in the
// namespace. With both, each item gets its own result and the Events are
// stored; with eventbatches alone the batch is refused whole.
func TestRBACABatchNeedsCreateOnEventsToo(t *testing.T) {
	ns := "e2e-rbac-batch"
	createNamespace(t, ns)
	grantBatchRoles(t, ns)

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

// TestTheBatchPathAnswersAsTheFullChainThroughTheAggregator: a protobuf
// create of an EventBatch takes the server's batch path (a shorter handler
// chain), also through the kube-apiserver's aggregation layer with the
// user it authenticated; with a query parameter the same request takes the
// full chain. Authorization (of eventbatches by the filter, of events by
// the storage) and admission (the namespace must exist) answer the same on
// both.
func TestTheBatchPathAnswersAsTheFullChainThroughTheAggregator(t *testing.T) {
	ns := "e2e-batch-path"
	createNamespace(t, ns)
	grantBatchRoles(t, ns)
	proxy := startProxy(t)

	encoder := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	batch := func(namespace, message string) []byte {
		t.Helper()
		b := &v1beta2.EventBatch{
			TypeMeta: metav1.TypeMeta{APIVersion: "notification.toolkit.fluxcd.io/v1beta2", Kind: "EventBatch"},
			Items: []v1beta2.Event{{
				InvolvedObject: v1beta2.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "apps", Namespace: namespace},
				Severity:       "info", Timestamp: metav1.Now(), Reason: "ReconciliationSucceeded", Message: message,
				ReportingController: "kustomize-controller",
			}},
		}
		var buf bytes.Buffer
		if err := encoder.Encode(b, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	// short counts the requests without a query that reach the server.
	short := 0
	post := func(user, namespace, query string, body []byte) (int, string) {
		t.Helper()
		return postWith(t, user, proxy+"/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/"+namespace+"/eventbatches"+query,
			"application/vnd.kubernetes.protobuf", body)
	}
	before := batchPathRequests(t)

	// Grants reach the server through cached SubjectAccessReviews.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := post("frank", ns, "", batch(ns, "frank, short"))
		if code == http.StatusCreated {
			short++
			if !strings.Contains(body, `"code":201`) {
				t.Errorf("frank's batch on the batch path: %s, want its item created", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("frank, with both grants, got %d on the batch path: %s", code, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code, body := post("frank", ns, "?fieldManager=full-chain", batch(ns, "frank, full")); code != http.StatusCreated || !strings.Contains(body, `"code":201`) {
		t.Errorf("frank's batch on the full chain: %d %s", code, body)
	}
	for _, tc := range []struct {
		name, user, namespace string
		want                  int
		says                  string
		// reaches: the kube-apiserver passes the request on (it refuses
		// a user without create on eventbatches itself).
		reaches bool
	}{
		{"create on eventbatches only", "erin", ns, http.StatusForbidden, "permission to create events", true},
		{"no grant", "grace", ns, http.StatusForbidden, "eventbatches", false},
		{"a namespace that does not exist", "", ns + "-none", http.StatusNotFound, ns + "-none", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(tc.user, tc.namespace, "", batch(tc.namespace, "short"))
			if tc.reaches {
				short++
			}
			fullCode, fullBody := post(tc.user, tc.namespace, "?fieldManager=full-chain", batch(tc.namespace, "full"))
			if code != tc.want || !strings.Contains(body, tc.says) {
				t.Errorf("the batch path answered %d %s; want %d saying %q", code, body, tc.want, tc.says)
			}
			if code != fullCode || body != fullBody {
				t.Errorf("the batch path answered %d %s\nthe full chain %d %s", code, body, fullCode, fullBody)
			}
		})
	}
	messages := mustKubectl(t, "-n", ns, "get", "events.notification", "-o", "jsonpath={.items[*].message}")
	if !strings.Contains(messages, "frank, short") || !strings.Contains(messages, "frank, full") || strings.Count(messages, "frank") != 2 {
		t.Errorf("events stored: %q, want frank's two", messages)
	}
	if got := batchPathRequests(t) - before; got < float64(short) {
		t.Errorf("notification_batch_path_requests_total grew by %v for %d requests without a query: not all took the batch path", got, short)
	}
}

// batchPathRequests sums the server's notification_batch_path_requests_total.
func batchPathRequests(t *testing.T) float64 {
	t.Helper()
	return serverMetricSum(t, "notification_batch_path_requests_total")
}

// grantBatchRoles lets erin and frank create eventbatches in ns, and
// frank events too.
func grantBatchRoles(t *testing.T, ns string) {
	t.Helper()
	mustKubectl(t, "-n", ns, "create", "role", "batch-only", "--verb=create", "--resource=eventbatches.notification.toolkit.fluxcd.io")
	mustKubectl(t, "-n", ns, "create", "rolebinding", "batch-only", "--role=batch-only", "--user=erin", "--user=frank")
	mustKubectl(t, "-n", ns, "create", "role", "event-poster", "--verb=create", "--resource=events.notification.toolkit.fluxcd.io")
	mustKubectl(t, "-n", ns, "create", "rolebinding", "event-poster", "--role=event-poster", "--user=frank")
}
