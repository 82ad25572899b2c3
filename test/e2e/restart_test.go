package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// restartServer stops notification-apiserver with SIGTERM and starts it
// again with the same command line, as a process supervisor would.
func restartServer(t *testing.T) {
	t.Helper()
	restartServerWith(t, syscall.SIGTERM)
}

// restartServerWith stops notification-apiserver with sig (SIGKILL: a
// crash) and starts it again with the same command line, then waits until
// it serves through the aggregator.
func restartServerWith(t *testing.T, sig syscall.Signal) {
	t.Helper()
	args := stopProcess(t, "notification-apiserver", sig)
	startProcess(t, "notification-apiserver", args)
	// The APIService may still say Available from before: wait until
	// requests through the aggregator succeed again.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := kubectl(t, "get", "providers.notification", "-A"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("notification-apiserver did not serve again within 60s of its restart")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopProcess sends sig to the control plane's process name (its PID in
// run/<name>.pid), waits until it has exited and returns its command line.
func stopProcess(t *testing.T, name string, sig syscall.Signal) []string {
	t.Helper()
	pid := processID(t, name)
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			// Dump its goroutines into its log, to see what held it.
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			t.Fatalf("%s did not stop on %v within 60s; its goroutines are in its log", name, sig)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return args
}

// startProcess starts args as the control plane's process name, as
// hack/local-up.sh does: in its own session, its output appended to
// logs/<name>.log, its PID in run/<name>.pid for hack/local-down.sh.
func startProcess(t *testing.T, name string, args []string) {
	t.Helper()
	logFile, err := os.OpenFile(filepath.Join(localDir, "logs", name+".log"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(localDir, "run", name+".pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }() // reap it when local-down stops it
}

// processID reads the PID of the control plane's process name.
func processID(t *testing.T, name string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(localDir, "run", name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestARestartInTheMiddleOfRetriesStillDelivers(t *testing.T) {
	ns := "e2e-restart"
	createNamespace(t, ns)
	var failing atomic.Bool
	failing.Store(true)
	var mu sync.Mutex
	var attempts, delivered int
	var bodies []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered++
		bodies = append(bodies, string(body))
	}))
	defer sink.Close()

	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: sink, namespace: e2e-restart}
spec: {type: generic, address: "`+sink.URL+`/hook"}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: all, namespace: e2e-restart}
spec:
  providerRef: {name: sink}
  eventSources: [{kind: GitRepository, name: '*'}]
`))
	waitFor(t, ns, "alert/all", "condition=Ready")
	event := `{"involvedObject":{"kind":"GitRepository","namespace":"e2e-restart","name":"podinfo","apiVersion":"source.toolkit.fluxcd.io/v1"},
"severity":"error","message":"failed to checkout","reason":"GitOperationFailed","reportingController":"source-controller"}`
	url, err := os.ReadFile(filepath.Join(localDir, "receiver-url"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(strings.TrimSpace(string(url)), "application/json", bytes.NewBufferString(event))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the receiver answered %d", resp.StatusCode)
	}

	// Let it fail twice, restart the server, then let the receiver recover.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := attempts
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d attempts in 60s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	restartServer(t)
	failing.Store(false)

	name := strings.TrimSpace(mustKubectl(t, "get", "events.notification", "-n", ns, "-o", "jsonpath={.items[0].metadata.name}"))
	waitFor(t, ns, "events.notification/"+name, `jsonpath={.status.deliveries[0].state}=Delivered`)
	mu.Lock()
	defer mu.Unlock()
	if delivered != 1 || !strings.Contains(bodies[0], "failed to checkout") {
		t.Errorf("the receiver accepted %d deliveries, want 1: %q", delivered, bodies)
	}
	if attempts < 3 {
		t.Errorf("%d attempts in all, want the failures and the success", attempts)
	}
}
