package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

// The fault tests count every event: each one the receiver acknowledged
// with 202 must reach the sink, and only once. SOAK=1 (make soak) runs
// them at the sizes of the issue; the default sizes keep `make e2e` short.

func soak() bool { return os.Getenv("SOAK") == "1" }

// deliveryWorkers is the server's default --delivery-workers: at most that
// many deliveries are in flight at any moment.
const deliveryWorkers = 16

// faultSink receives a generic Provider's posts on one loopback port for a
// whole test and counts each event by its message. It can answer 500, or
// refuse connections (its listener and connections closed) and come back
// on the same port.
type faultSink struct {
	addr      string
	mu        sync.Mutex
	srv       *http.Server
	failing   bool
	failed    int               // posts answered 500
	malformed int               // posts that were not a Flux event
	received  map[string]int    // posts taken, by message
	paths     map[string]string // the path each message was posted to
}

func startFaultSink(t *testing.T) *faultSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &faultSink{addr: l.Addr().String(), received: map[string]int{}, paths: map[string]string{}}
	s.serve(l)
	t.Cleanup(func() {
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
	})
	return s
}

func (s *faultSink) serve(l net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

func (s *faultSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var e struct {
		Message string `json:"message"`
	}
	if err == nil {
		err = json.Unmarshal(body, &e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil || e.Message == "":
		s.malformed++
		w.WriteHeader(http.StatusBadRequest)
	case s.failing:
		s.failed++
		w.WriteHeader(http.StatusInternalServerError)
	default:
		s.received[e.Message]++
		s.paths[e.Message] = r.URL.Path
	}
}

func (s *faultSink) url(path string) string { return "http://" + s.addr + path }

func (s *faultSink) setFailing(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

// refuse closes the listener and every open connection: the server's
// pooled connections break and new ones are refused.
func (s *faultSink) refuse(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", s.addr, 5*time.Second); err == nil {
		c.Close()
		t.Fatalf("the sink still accepts connections on %s after closing its listener", s.addr)
	}
}

// reopen listens on the same port again and takes posts.
func (s *faultSink) reopen(t *testing.T) {
	t.Helper()
	var l net.Listener
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for l, err = net.Listen("tcp", s.addr); err != nil; l, err = net.Listen("tcp", s.addr) {
		if time.Now().After(deadline) {
			t.Fatalf("listening on %s again: %v", s.addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.setFailing(false)
	s.serve(l)
}

// counts returns the posts taken by message, and how many were answered 500.
func (s *faultSink) counts() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	received := make(map[string]int, len(s.received))
	for m, n := range s.received {
		received[m] = n
	}
	return received, s.failed
}

func (s *faultSink) malformedPosts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.malformed
}

// waitReceived waits until the sink has taken every message of want.
func (s *faultSink) waitReceived(t *testing.T, ns string, want []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		received, _ := s.counts()
		var missing []string
		for _, m := range want {
			if received[m] == 0 {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted events never reached the sink within %v, e.g. %q; the Events of %s: %s",
				len(missing), len(want), timeout, missing[:min(10, len(missing))], ns, eventStates(t, ns))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// duplicates counts the posts beyond the first of each message.
func duplicates(received map[string]int) (int, []string) {
	n := 0
	var which []string
	for m, c := range received {
		if c > 1 {
			n += c - 1
			which = append(which, fmt.Sprintf("%s (x%d)", m, c))
		}
	}
	sort.Strings(which)
	return n, which
}

// routeToSink makes a generic Provider for address and an Alert taking
// every Kustomization's events to it, and waits until both are Ready.
func routeToSink(t *testing.T, ns, address string) {
	t.Helper()
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, fmt.Sprintf(`
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: sink, namespace: %[1]s}
spec: {type: generic, address: %[2]q}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: all, namespace: %[1]s}
spec:
  providerRef: {name: sink}
  eventSources: [{kind: Kustomization, name: '*'}]
`, ns, address)))
	waitFor(t, ns, "provider/sink", "condition=Ready")
	// Routing takes the Alerts the server has seen when the event comes.
	waitFor(t, ns, "alert/all", "condition=Ready")
}

// receiverClient posts Flux events to the receiver sidecar.
type receiverClient struct {
	url  string
	http *http.Client
}

func newReceiverClient(t *testing.T) *receiverClient {
	t.Helper()
	url, err := os.ReadFile(filepath.Join(localDir, "receiver-url"))
	if err != nil {
		t.Fatalf("the control plane has no receiver: %v", err)
	}
	return &receiverClient{url: strings.TrimSpace(string(url)), http: &http.Client{Timeout: 60 * time.Second}}
}

// post sends the event of a Kustomization ns/object with message and
// returns the receiver's answer.
func (r *receiverClient) post(ns, object, message string) (int, error) {
	body, err := json.Marshal(map[string]any{
		"involvedObject": map[string]string{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": ns, "name": object,
		},
		"severity": "info", "reason": "ReconciliationSucceeded", "message": message,
		"reportingController": "kustomize-controller",
	})
	if err != nil {
		return 0, err
	}
	resp, err := r.http.Post(r.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitSettled waits until every Event of ns is routed and none has a
// delivery pending, and returns them.
func waitSettled(t *testing.T, ns string, timeout time.Duration) []v1beta2.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		list, err := client.NotificationV1beta2().Events(ns).List(t.Context(), metav1.ListOptions{})
		if err == nil && !slices.ContainsFunc(list.Items, func(e v1beta2.Event) bool {
			return e.Status.RoutedAt == nil || slices.ContainsFunc(e.Status.Deliveries, func(d v1beta2.Delivery) bool { return d.State == "Pending" })
		}) {
			return list.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Events of %s did not settle within %v (%v): %s", ns, timeout, err, eventStates(t, ns))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// eventStates sums up the deliveries of the Events of ns by state, for a
// failure message.
func eventStates(t *testing.T, ns string) string {
	t.Helper()
	list, err := client.NotificationV1beta2().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	states := map[string]int{}
	unrouted := 0
	for _, e := range list.Items {
		if e.Status.RoutedAt == nil {
			unrouted++
		}
		for _, d := range e.Status.Deliveries {
			states[d.State]++
		}
	}
	return fmt.Sprintf("%d Events, %d not routed, deliveries by state %v", len(list.Items), unrouted, states)
}

// checkDelivered fails the test unless every Event has one delivery, Delivered.
func checkDelivered(t *testing.T, events []v1beta2.Event) {
	t.Helper()
	for _, e := range events {
		if len(e.Status.Deliveries) != 1 || e.Status.Deliveries[0].State != "Delivered" {
			t.Errorf("Event %s (%q): deliveries %+v, want one Delivered", e.Name, e.Message, e.Status.Deliveries)
		}
	}
}

// TestFaultSinkOutageLosesNothing: the sink answers 500 for the first half
// of an outage, then refuses connections, while events are posted; once
// it is back, every accepted event reaches it once.
func TestFaultSinkOutageLosesNothing(t *testing.T) {
	n, outage := 50, 10*time.Second
	if soak() {
		n, outage = 200, 60*time.Second
	}
	ns := "e2e-fault-outage"
	createNamespace(t, ns)
	sink := startFaultSink(t)
	routeToSink(t, ns, sink.url("/hook"))
	receiver := newReceiverClient(t)

	sink.setFailing(true)
	start := time.Now()
	var accepted []string
	refused, closed := 0, false
	for i := range n {
		time.Sleep(time.Until(start.Add(outage * time.Duration(i) / time.Duration(n))))
		if !closed && time.Since(start) >= outage/2 {
			sink.refuse(t)
			closed = true
		}
		msg := fmt.Sprintf("outage %d", i)
		code, err := receiver.post(ns, "apps", msg)
		if code != http.StatusAccepted {
			refused++
			t.Logf("posting %q: %d %v", msg, code, err)
			continue
		}
		accepted = append(accepted, msg)
	}
	if !closed {
		sink.refuse(t)
	}
	_, failed := sink.counts()
	time.Sleep(time.Until(start.Add(outage)))
	sink.reopen(t)

	sink.waitReceived(t, ns, accepted, 3*time.Minute)
	events := waitSettled(t, ns, 2*time.Minute)
	time.Sleep(2 * time.Second) // a late second post would show by now
	received, _ := sink.counts()
	dups, which := duplicates(received)
	t.Logf("sink outage of %v: %d events posted, %d accepted (202), %d refused; %d stored; %d posts answered 500; "+
		"%d delivered, %d duplicates %v", outage, n, len(accepted), refused, len(events), failed, len(received), dups, which)
	if refused > 0 {
		t.Errorf("%d of %d posts refused: the sink's outage must not stop the receiver", refused, n)
	}
	if failed == 0 {
		t.Error("the server never tried the sink while it answered 500: the outage tested nothing")
	}
	if dups != 0 {
		t.Errorf("%d duplicate deliveries: %v", dups, which)
	}
	if len(received) != len(events) {
		t.Errorf("%d events delivered, %d stored", len(received), len(events))
	}
	checkDelivered(t, events)
	if m := sink.malformedPosts(); m > 0 {
		t.Errorf("the sink got %d posts that were not Flux events", m)
	}
}

// TestFaultServerKilledWhilePostingLosesNothing: notification-apiserver is
// killed (SIGKILL) while several posters send events through the
// receiver, and started again; every event acknowledged with 202 is
// delivered.
func TestFaultServerKilledWhilePostingLosesNothing(t *testing.T) {
	n, posters := 200, 4
	if soak() {
		n = 1000
	}
	ns := "e2e-fault-crash"
	createNamespace(t, ns)
	sink := startFaultSink(t)
	routeToSink(t, ns, sink.url("/hook"))
	receiver := newReceiverClient(t)

	var next, acceptedN atomic.Int64
	var mu sync.Mutex
	accepted := map[string]bool{}
	refusals := map[string]int{} // by answer
	var wg sync.WaitGroup
	for range posters {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				msg := fmt.Sprintf("crash %d", i)
				code, err := receiver.post(ns, "apps", msg)
				mu.Lock()
				if code == http.StatusAccepted {
					accepted[msg] = true
					mu.Unlock()
					acceptedN.Add(1)
					continue
				}
				answer := fmt.Sprint(code)
				if err != nil {
					answer = "error"
				}
				refusals[answer]++
				mu.Unlock()
				time.Sleep(300 * time.Millisecond) // as a sender backs off
			}
		})
	}
	// Kill it with posts in flight, once a third of them is accepted.
	deadline := time.Now().Add(3 * time.Minute)
	for acceptedN.Load() < int64(n/3) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d events accepted within 3 minutes", acceptedN.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	killedAt := acceptedN.Load()
	restartServerWith(t, syscall.SIGKILL)
	wg.Wait()

	mu.Lock()
	want := make([]string, 0, len(accepted))
	for m := range accepted {
		want = append(want, m)
	}
	refused := 0
	for _, c := range refusals {
		refused += c
	}
	mu.Unlock()
	// The new server waits for the Lease of the killed one to expire (15s).
	sink.waitReceived(t, ns, want, 4*time.Minute)
	events := waitSettled(t, ns, 2*time.Minute)
	time.Sleep(2 * time.Second) // a late second post would show by now
	received, _ := sink.counts()
	dups, which := duplicates(received)
	unacknowledged := 0 // stored, but the answer was lost with the server
	for m := range received {
		if !accepted[m] {
			unacknowledged++
		}
	}
	t.Logf("SIGKILL after %d accepted: %d events posted by %d posters, %d accepted (202), %d refused %v; %d stored; "+
		"%d delivered (%d of them never acknowledged), %d duplicates %v",
		killedAt, n, posters, len(want), refused, refusals, len(events), len(received), unacknowledged, dups, which)
	// A delivery is recorded in the Event's status after the sink took
	// it: a kill between the two leaves it Pending, and the next server
	// sends it again. At most one per delivery in flight at the kill.
	if dups > deliveryWorkers {
		t.Errorf("%d duplicate deliveries, more than the %d that can be in flight at the kill: %v", dups, deliveryWorkers, which)
	}
	if len(received) != len(events) {
		t.Errorf("%d events delivered, %d stored", len(received), len(events))
	}
	checkDelivered(t, events)
	if m := sink.malformedPosts(); m > 0 {
		t.Errorf("the sink got %d posts that were not Flux events", m)
	}
}

// TestFaultKubeAPIServerRestart: while the kube-apiserver is down,
// notification-apiserver keeps running and serving its own clients;
// after the kube-apiserver is back, it serves through the aggregator
// again, its informers see new Secrets, it wins its Lease back, and
// events are delivered.
func TestFaultKubeAPIServerRestart(t *testing.T) {
	ns := "e2e-fault-kube"
	createNamespace(t, ns)
	sink := startFaultSink(t)
	// A route made before the outage, for the events of Kustomization "during".
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, fmt.Sprintf(`
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: before, namespace: %[1]s}
spec: {type: generic, address: %[2]q}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: before, namespace: %[1]s}
spec:
  providerRef: {name: before}
  eventSources: [{kind: Kustomization, name: during}]
`, ns, sink.url("/before"))))
	waitFor(t, ns, "provider/before", "condition=Ready")
	waitFor(t, ns, "alert/before", "condition=Ready")
	direct := directClient(t)
	receiver := newReceiverClient(t)
	server := processID(t, "notification-apiserver")

	args := stopProcess(t, "kube-apiserver", syscall.SIGTERM)
	down := time.Now()
	// Longer than the Lease's renew deadline (10s): the server loses its
	// leadership too, and must win it back.
	for checks := 0; time.Since(down) < 12*time.Second || checks < 3; checks++ {
		checkServesAlone(t, ns, direct, server)
		time.Sleep(time.Second)
	}
	// An Event created directly while the kube-apiserver is away is stored...
	during := &v1beta2.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns},
		InvolvedObject: v1beta2.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization",
			Namespace: ns, Name: "during"},
		Severity: "info", Timestamp: metav1.Now(), Reason: "ReconciliationSucceeded",
		Message: "created during the outage", ReportingController: "kustomize-controller",
	}
	if _, err := direct.NotificationV1beta2().Events(ns).Create(t.Context(), during, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating an Event on notification-apiserver while the kube-apiserver is down: %v", err)
	}
	// ... while the receiver cannot store one: the server cannot review
	// its token without the kube-apiserver. Whatever it answers, a 202
	// must mean the event is delivered.
	expected := []string{"created during the outage", "posted after the restart"}
	code, err := receiver.post(ns, "during", "posted to the receiver during the outage")
	t.Logf("the receiver answered %d (%v) during the outage", code, err)
	if code == http.StatusAccepted {
		expected = append(expected, "posted to the receiver during the outage")
	}
	checkServesAlone(t, ns, direct, server)
	startProcess(t, "kube-apiserver", args)
	t.Logf("the kube-apiserver was down for %v", time.Since(down).Round(time.Second))

	// kubectl reaches the aggregated server again.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := kubectl(t, "get", "providers.notification", "-n", ns, "-o", "name")
		if err == nil && strings.Contains(out, "provider.notification.toolkit.fluxcd.io/before") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no providers through the kube-apiserver within 2 minutes of its restart: %v\n%s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Its informers reconnected: a Provider taking its address from a
	// Secret, both new, becomes Ready.
	mustKubectl(t, "-n", ns, "create", "secret", "generic", "after-address", "--from-literal=address="+sink.url("/after"))
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, fmt.Sprintf(`
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: after, namespace: %[1]s}
spec: {type: generic, secretRef: {name: after-address}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: after, namespace: %[1]s}
spec:
  providerRef: {name: after}
  eventSources: [{kind: Kustomization, name: after}]
`, ns)))
	waitFor(t, ns, "provider/after", "condition=Ready")
	waitFor(t, ns, "alert/after", "condition=Ready")
	deadline = time.Now().Add(2 * time.Minute)
	for {
		code, err := receiver.post(ns, "after", "posted after the restart")
		if code == http.StatusAccepted || code == http.StatusTooManyRequests { // 429: stored by an earlier try
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver still answers %d (%v) 2 minutes after the kube-apiserver's restart", code, err)
		}
		time.Sleep(time.Second)
	}

	sink.waitReceived(t, ns, expected, 3*time.Minute)
	events := waitSettled(t, ns, 2*time.Minute)
	time.Sleep(2 * time.Second) // a late second post would show by now
	received, _ := sink.counts()
	dups, which := duplicates(received)
	t.Logf("kube-apiserver restart: %d events stored, %d delivered, %d duplicates %v", len(events), len(received), dups, which)
	if dups != 0 {
		t.Errorf("%d duplicate deliveries: %v", dups, which)
	}
	if len(received) != len(expected) {
		t.Errorf("the sink got %v, want each of %q once", received, expected)
	}
	sink.mu.Lock()
	if p := sink.paths["posted after the restart"]; p != "/after" {
		t.Errorf("the event after the restart was posted to %q, want the Secret's address /after", p)
	}
	sink.mu.Unlock()
	checkDelivered(t, events)
}

// directClient talks to notification-apiserver itself, not through the
// kube-apiserver, as the admin (client certificate, group system:masters).
func directClient(t *testing.T) versioned.Interface {
	t.Helper()
	pki := filepath.Join(localDir, "pki")
	c, err := versioned.NewForConfig(&rest.Config{
		Host: "https://127.0.0.1:" + localEnv(t, "NOTIFICATION_PORT"),
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: filepath.Join(pki, "ca.crt"), CertFile: filepath.Join(pki, "admin.crt"), KeyFile: filepath.Join(pki, "admin.key"),
		},
		Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkServesAlone checks, while the kube-apiserver is down, that
// notification-apiserver runs, is ready, and lists the Providers of ns
// for a client that reaches it directly: client certificates need no
// kube-apiserver, and system:masters skips delegated authorization.
func checkServesAlone(t *testing.T, ns string, direct versioned.Interface, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("notification-apiserver (PID %d) is gone while the kube-apiserver is down: %v", pid, err)
	}
	for _, path := range []string{"/readyz", "/livez"} {
		if body, err := direct.Discovery().RESTClient().Get().AbsPath(path).DoRaw(t.Context()); err != nil {
			t.Fatalf("%s of notification-apiserver while the kube-apiserver is down: %v: %s", path, err, body)
		}
	}
	list, err := direct.NotificationV1beta2().Providers(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing Providers on notification-apiserver while the kube-apiserver is down: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "before" {
		t.Fatalf("notification-apiserver lists %d Providers in %s while the kube-apiserver is down, want before", len(list.Items), ns)
	}
}

// localEnv reads a value of the control plane's env file.
func localEnv(t *testing.T, key string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(localDir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k == key {
			return v
		}
	}
	t.Fatalf("no %s in %s", key, f.Name())
	return ""
}
