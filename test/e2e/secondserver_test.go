package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notification-apiserver/notification-apiserver/test/promtext"
)

// serverMetrics fetches /metrics from notification-apiserver directly, as
// the admin of the control plane.
func serverMetrics(t *testing.T) string {
	t.Helper()
	return metricsOf(t, "https://127.0.0.1:"+controlPlaneEnv(t)["NOTIFICATION_PORT"])
}

// serverMetricSum sums the samples of the metric name on the server's
// /metrics whose labels hold each of match.
func serverMetricSum(t *testing.T, name string, match ...string) float64 {
	t.Helper()
	sum, err := promtext.Sum(serverMetrics(t), name, match...)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// metricsOf fetches /metrics from the notification-apiserver at url
// directly, as the admin of the control plane.
func metricsOf(t *testing.T, url string) string {
	t.Helper()
	hc := adminHTTPClient(t)
	resp, err := hc.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "apiserver_request_total") {
		t.Fatalf("/metrics answered %d: %.300s", resp.StatusCode, body)
	}
	return string(body)
}

// controlPlaneEnv reads $LOCAL_DIR/env, where local-up.sh writes its ports.
func controlPlaneEnv(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(localDir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// adminHTTPClient reaches the control plane's servers as its admin, with
// the client certificate of $LOCAL_DIR/pki.
func adminHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	pki := filepath.Join(localDir, "pki")
	pair, err := tls.LoadX509KeyPair(filepath.Join(pki, "admin.crt"), filepath.Join(pki, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("no CA certificate in pki/ca.crt")
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}}
}

// startFlaggedServer starts a second notification-apiserver (see
// startSecondServer) and returns the kubectl arguments that talk to it
// directly.
func startFlaggedServer(t *testing.T, flags ...string) []string {
	t.Helper()
	return startSecondServer(t, flags...).kubectlArgs()
}

// secondServer is a notification-apiserver process beside the e2e one.
type secondServer struct {
	url string // https://127.0.0.1:<port>
	pid int
	bin string // the notification-apiserver binary
	log string
}

func (s *secondServer) kubectlArgs() []string { return []string{"--server=" + s.url} }

// startSecondServer starts a second notification-apiserver beside the
// e2e one, with its command line (so the same kube-apiserver
// authenticates, authorizes and holds its Secrets) but its own port and
// embedded etcd, no leader election (it delivers its Events itself), and
// flags added. It stops it when the test ends. Its log is with the others
// in $LOCAL_DIR/logs.
func startSecondServer(t *testing.T, flags ...string) *secondServer {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(localDir, "run", "notification-apiserver.pid"))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%s/cmdline", strings.TrimSpace(string(raw))))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	port := freePort(t)
	var own []string
	replaced := 0
	for _, a := range args[1:] {
		switch {
		case strings.HasPrefix(a, "--secure-port="):
			a = fmt.Sprintf("--secure-port=%d", port)
			replaced++
		case strings.HasPrefix(a, "--embedded-etcd-dir="):
			a = "--embedded-etcd-dir=" + t.TempDir()
			replaced++
		case strings.HasPrefix(a, "--leader-elect"):
			continue
		}
		own = append(own, a)
	}
	if replaced != 2 {
		t.Fatalf("the e2e server's command line lacks --secure-port= or --embedded-etcd-dir=: %q", args)
	}
	own = append(append(own, "--leader-elect=false"), flags...)

	logPath := filepath.Join(localDir, "logs", "notification-apiserver-flagged.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(args[0], own...)
	exited := startUntilCleanup(t, "the flagged server", cmd, logFile, 60*time.Second)

	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	hc := adminHTTPClient(t)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := hc.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("the flagged server exited; its log is %s", logPath)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flagged server is not ready after 2m: %v; its log is %s", err, logPath)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return &secondServer{url: url, pid: cmd.Process.Pid, bin: args[0], log: logPath}
}

// startReceiver starts the event receiver sidecar of s, storing events in
// s directly with the e2e server's credentials, as local-up.sh starts the
// e2e server's. It stops it when the test ends and returns its URL.
func (s *secondServer) startReceiver(t *testing.T) string {
	t.Helper()
	pki := filepath.Join(localDir, "pki")
	port := freePort(t)
	logFile, err := os.OpenFile(filepath.Join(localDir, "logs", "receiver-second.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, "receiver", fmt.Sprintf("--listen=127.0.0.1:%d", port),
		"--kubeconfig="+filepath.Join(pki, "notification-apiserver.kubeconfig"),
		"--api-server="+s.url, "--api-server-ca-file="+filepath.Join(pki, "ca.crt"), "--v=1")
	exited := startUntilCleanup(t, "the receiver", cmd, logFile, 30*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return "http://" + addr + "/"
		}
		select {
		case <-exited:
			t.Fatalf("the receiver exited; its log is %s", logFile.Name())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver does not listen after 1m: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startUntilCleanup starts cmd in its own session, logging to logFile,
// and stops it with SIGTERM when the test ends (SIGKILL after grace). The
// channel closes when it exits.
func startUntilCleanup(t *testing.T, what string, cmd *exec.Cmd, logFile *os.File, grace time.Duration) <-chan struct{} {
	t.Helper()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			t.Errorf("%s did not stop within %s of SIGTERM", what, grace)
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return exited
}
