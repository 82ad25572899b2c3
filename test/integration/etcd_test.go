package integration

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// etcdMetrics reads the embedded etcd's own /metrics (on its client port):
// each series with its value.
func etcdMetrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(server.EtcdURL + "/metrics")
	if err != nil {
		t.Fatalf("reading etcd's metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("etcd's /metrics answered %d: %s", resp.StatusCode, body)
	}
	series := map[string]float64{}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		line := lines.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			series[line[:i]] = v
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("reading etcd's metrics: %v", err)
	}
	return series
}

// grpcCalls is the series of the calls etcd served over gRPC to a method.
func grpcCalls(service, method, kind string) string {
	return `grpc_server_started_total{grpc_method="` + method + `",grpc_service="etcdserverpb.` + service + `",grpc_type="` + kind + `"}`
}

// The embedded etcd is called in-process: the writes of every resource
// and of its status (here an Event's way from creation to delivery, which
// writes each of them) reach etcd, none over its gRPC port. Only the
// /readyz and /livez checks use the port, and they only read.
func TestTheEmbeddedEtcdIsCalledInProcessNotOverGRPC(t *testing.T) {
	ns := "etcd-in-process"
	writes := []string{
		grpcCalls("KV", "Txn", "unary"),
		grpcCalls("KV", "Put", "unary"),
		grpcCalls("KV", "DeleteRange", "unary"),
		grpcCalls("Lease", "LeaseGrant", "unary"), // an Event's retention
	}
	const puts = "etcd_mvcc_put_total"
	before := etcdMetrics(t)
	for _, s := range append(writes, puts) {
		if _, ok := before[s]; !ok {
			t.Fatalf("etcd's /metrics lacks %s", s)
		}
	}

	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL, nil) // a Provider and an Alert, each written Ready
	created, err := client.NotificationV1beta2().Events(ns).Create(t.Context(), newEvent(ns, "in process"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitDelivery(t, ns, created.Name, "Delivered") // the Event's status
	if err := client.NotificationV1beta2().Alerts(ns).Delete(t.Context(), "all", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	after := etcdMetrics(t)
	if got := after[puts] - before[puts]; got < 4 {
		t.Errorf("etcd stored %v keys, want at least 4 (a Provider, an Alert, an Event and its status)", got)
	}
	for _, s := range writes {
		if n := after[s] - before[s]; n != 0 {
			t.Errorf("etcd served %v calls over gRPC: %s", n, s)
		}
	}
	// The watch caches' watches began as the server started.
	if n := after[grpcCalls("Watch", "Watch", "bidi_stream")]; n != 0 {
		t.Errorf("etcd served %v watch streams over gRPC", n)
	}
}

// A watch list (the initial state as a watch, as informers ask for it)
// needs etcd's watch progress requests: the storage learns that the
// embedded etcd has them although its client has no endpoint.
func TestAWatchListStartsWithTheObjectsThenABookmark(t *testing.T) {
	ns := "watch-list"
	providers := client.NotificationV1beta2().Providers(ns)
	if _, err := providers.Create(t.Context(), &v1beta2.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"},
		Spec:       v1beta2.ProviderSpec{Type: "generic", Address: "https://example.com/hook"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := providers.Watch(t.Context(), metav1.ListOptions{
		SendInitialEvents:    ptr.To(true),
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks:  true,
	})
	if err != nil {
		t.Fatalf("watch list: %v", err)
	}
	defer w.Stop()
	var added []string
	for {
		select {
		case ev := <-w.ResultChan():
			switch ev.Type {
			case watch.Added:
				added = append(added, ev.Object.(*v1beta2.Provider).Name)
				continue
			case watch.Bookmark:
				p := ev.Object.(*v1beta2.Provider)
				if p.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
					t.Errorf("the first bookmark does not end the initial events: %v", p.Annotations)
				}
				if len(added) != 1 || added[0] != "p" {
					t.Errorf("the initial events were %v, want [p]", added)
				}
				return
			case watch.Modified: // the reconciler's status write
				continue
			}
			t.Fatalf("a %s event of a watch list: %v", ev.Type, ev.Object)
		case <-time.After(30 * time.Second):
			t.Fatalf("no bookmark after %v", added)
		}
	}
}
