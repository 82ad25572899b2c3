package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProxy runs `kubectl proxy` on a free loopback port until the test ends.
func startProxy(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command("kubectl", "proxy", "--address=127.0.0.1", fmt.Sprintf("--port=%d", port))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting kubectl proxy: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Starting to serve") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("kubectl proxy did not start")
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func TestKubectlProxyGetAndPost(t *testing.T) {
	createNamespace(t, "e2e-proxy")
	base := startProxy(t) + "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/e2e-proxy/providers"

	body := jsonOf(t, map[string]any{
		"apiVersion": "notification.toolkit.fluxcd.io/v1beta2",
		"kind":       "Provider",
		"metadata":   map[string]any{"name": "posted"},
		"spec":       map[string]any{"type": "generic", "address": "https://example.com/hook"},
	})
	resp, err := http.Post(base, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST answered %d: %s", resp.StatusCode, out)
	}

	resp, err = http.Get(base + "/posted")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	var got v1beta2.Provider
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET answered %d, %v", resp.StatusCode, err)
	}
	if got.Spec.Type != "generic" || got.Spec.Address != "https://example.com/hook" || got.Spec.Timeout == nil {
		t.Errorf("GET returned spec %+v", got.Spec)
	}

	resp, err = http.Post(base, "application/json", strings.NewReader(`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Provider","metadata":{"name":"bad"},"spec":{"type":"nope"}}`))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	out, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(out), "spec.type") {
		t.Errorf("POST of an invalid Provider answered %d: %s", resp.StatusCode, out)
	}
}

// kubectlWatch runs kubectl with args until ctx ends or the test does,
// and returns the lines it prints.
func kubectlWatch(t *testing.T, ctx context.Context, args ...string) <-chan string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// Watches of Events served over HTTP come in groups (see the events
// storage's watchGroupWindow): kubectl's and the kube-controller-manager's
// garbage collector's see every change all the same. The collector finds
// the Event through its watch and deletes it once its owner is gone.
func TestEventWatchersSeeEveryChangeAndTheGarbageCollectorCollects(t *testing.T) {
	// After the other tests: by then the collector has found Events in its
	// discovery (it looks every 30 s), and the deletion comes at once.
	t.Parallel()
	const ns = "e2e-event-watch"
	createNamespace(t, ns)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	lines := kubectlWatch(t, ctx, "get", "events.notification", "-n", ns, "-w", "--output-watch-events")
	next := func(what string) []string {
		t.Helper()
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl get -w ended before %s", what)
			}
			return strings.Fields(line)
		case <-ctx.Done():
			t.Fatalf("kubectl get -w printed no %s", what)
			return nil
		}
	}
	mustKubectl(t, "-n", ns, "create", "configmap", "owner")
	uid := strings.TrimSpace(mustKubectl(t, "-n", ns, "get", "configmap", "owner", "-o", "jsonpath={.metadata.uid}"))
	// Several Events at once, as a transaction of the receiver's would
	// bring them: the watchers get them in one group.
	var names []string
	var manifest strings.Builder
	for i := range 5 {
		name := fmt.Sprintf("owned-%d", i)
		names = append(names, name)
		fmt.Fprintf(&manifest, `---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Event
metadata:
  namespace: %s
  name: %s
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: %s}]
involvedObject: {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: webapp, namespace: %s}
severity: info
timestamp: "2026-11-26T10:00:00Z"
reason: Testing
message: "owned %d"
reportingController: e2e
`, ns, name, uid, ns, i)
	}
	mustKubectl(t, "create", "-f", writeManifest(t, manifest.String()))
	// kubectl prints the header with the first Event.
	if header := strings.Join(next("header"), " "); header != "EVENT NAME SEVERITY REASON OBJECT DELIVERED AGE" {
		t.Fatalf("kubectl get -w printed the header %q", header)
	}
	seen := func(change string) {
		t.Helper()
		want := map[string]bool{}
		for _, n := range names {
			want[n] = true
		}
		for len(want) > 0 {
			f := next(change + " of " + fmt.Sprint(names))
			if len(f) < 2 {
				t.Fatalf("kubectl get -w printed %q", f)
			}
			if f[0] == change {
				delete(want, f[1])
			} else if f[0] != "MODIFIED" { // the delivery loop's record
				t.Fatalf("kubectl get -w printed %q, want %s or MODIFIED", f, change)
			}
		}
	}
	seen("ADDED")

	mustKubectl(t, "-n", ns, "delete", "configmap", "owner")
	seen("DELETED")
	if out := mustKubectl(t, "-n", ns, "get", "events.notification", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("Events left after their owner was deleted: %s", out)
	}
}

func TestWatchThroughTheAggregator(t *testing.T) {
	createNamespace(t, "e2e-watch")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	w, err := client.NotificationV1beta2().Providers("e2e-watch").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: watched, namespace: e2e-watch}
spec: {type: generic, address: "https://example.com/hook"}
`))
	mustKubectl(t, "-n", "e2e-watch", "patch", "provider/watched", "--type=merge", "-p", `{"spec":{"channel":"changed"}}`)

	// The server's own status writes also come as MODIFIED: wait for the
	// one that carries the patched spec.
	for _, want := range []watch.EventType{watch.Added, watch.Modified} {
	next:
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed before %s", want)
			}
			p, isProvider := ev.Object.(*v1beta2.Provider)
			if !isProvider || p.Name != "watched" {
				t.Fatalf("got %s %T, want %s of provider watched", ev.Type, ev.Object, want)
			}
			if want == watch.Modified && ev.Type == watch.Modified && p.Spec.Channel == "" {
				goto next // a status write
			}
			if ev.Type != want {
				t.Fatalf("got %s, want %s", ev.Type, want)
			}
			if want == watch.Modified && (p.Spec.Channel != "changed" || p.Generation != 2) {
				t.Errorf("modified provider: channel %q generation %d", p.Spec.Channel, p.Generation)
			}
		case <-ctx.Done():
			t.Fatalf("no %s event through the aggregator", want)
		}
	}

	// kubectl's own watch sees a change too.
	lines := kubectlWatch(t, ctx, "get", "providers", "-n", "e2e-watch", "-w", "--output-watch-events")
	if header := <-lines; strings.Join(strings.Fields(header), " ") != "EVENT NAME AGE READY STATUS" {
		t.Fatalf("kubectl get -w printed the header %q", header)
	}
	if first := strings.Fields(<-lines); len(first) < 2 || first[0] != "ADDED" || first[1] != "watched" {
		t.Fatalf("kubectl get -w started with %q, want the existing provider ADDED", first)
	}
	mustKubectl(t, "-n", "e2e-watch", "delete", "provider/watched")
	for deleted := false; !deleted; {
		select {
		case line := <-lines:
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "MODIFIED" && f[1] == "watched" {
				continue // a status write
			}
			if len(f) < 2 || f[0] != "DELETED" || f[1] != "watched" {
				t.Fatalf("kubectl get -w printed %q, want the deletion", line)
			}
			deleted = true
		case <-ctx.Done():
			t.Fatalf("kubectl get -w saw no deletion")
		}
	}
}

func TestDeletingANamespaceRemovesItsProvidersAndAlerts(t *testing.T) {
	ns := "e2e-ns-delete"
	mustKubectl(t, "create", "namespace", ns)
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: doomed, namespace: e2e-ns-delete}
spec: {type: generic, address: "https://example.com/hook"}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: doomed, namespace: e2e-ns-delete}
spec:
  providerRef: {name: doomed}
  eventSources: [{kind: GitRepository, name: '*'}]
`))
	mustKubectl(t, "delete", "namespace", ns, "--wait=true", "--timeout=120s")

	err := wait.PollUntilContextTimeout(t.Context(), time.Second, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		ps, err := client.NotificationV1beta2().Providers(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		as, err := client.NotificationV1beta2().Alerts(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		return len(ps.Items) == 0 && len(as.Items) == 0, nil
	})
	if err != nil {
		t.Errorf("the namespace is gone but its Providers or Alerts remain: %v", err)
	}
}
