package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

// soaking: SOAK=1 makes the fault tests longer, with more events.
func soaking() bool { return os.Getenv("SOAK") == "1" }

// process is a child process the test started in its own session, with
// its output in $LOCAL_DIR/logs (printed when the suite fails).
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once it has exited
}

func startChildProcess(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{name: name, log: filepath.Join(localDir, "logs", "e2e-"+name+".log"), done: make(chan struct{})}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

func (p *process) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig and waits up to timeout for the process to exit.
func (p *process) signal(sig syscall.Signal, timeout time.Duration) bool {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// terminate stops the process, if still running, with SIGTERM, then SIGKILL.
func (p *process) terminate(t *testing.T) {
	if p.alive() && !p.signal(syscall.SIGTERM, 30*time.Second) {
		t.Errorf("%s did not stop on SIGTERM within 30s", p.name)
		p.signal(syscall.SIGKILL, 10*time.Second)
	}
}

// externalEtcd is bin/etcd with its own data directory and ports, which
// it keeps across a stop and a start.
type externalEtcd struct {
	*process
	dir, clientURL, peerURL string
}

func startExternalEtcd(t *testing.T) *externalEtcd {
	t.Helper()
	e := &externalEtcd{
		dir:       t.TempDir(),
		clientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		peerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
	}
	e.start(t)
	t.Cleanup(func() { e.process.terminate(t) }) // registered before the servers': stopped after them
	return e
}

func (e *externalEtcd) start(t *testing.T) {
	t.Helper()
	name := "etcd-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	e.process = startChildProcess(t, name, filepath.Join(root, "bin", "etcd"),
		"-data-dir", e.dir, "-listen-client-url", e.clientURL, "-listen-peer-url", e.peerURL)
	waitUntil(t, 60*time.Second, "etcd to be healthy", func() bool {
		if !e.alive() {
			t.Fatalf("etcd exited; see %s", e.log)
		}
		resp, err := http.Get(e.clientURL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop stops etcd with SIGTERM and waits until it is gone.
func (e *externalEtcd) stop(t *testing.T) {
	t.Helper()
	if !e.signal(syscall.SIGTERM, 30*time.Second) {
		t.Fatal("etcd did not stop on SIGTERM within 30s")
	}
}

// directServer is a notification-apiserver process that the aggregator
// does not know: the test reaches it directly with the admin certificate.
type directServer struct {
	*process
	pid    int
	url    string
	client versioned.Interface
	https  *http.Client

	mu sync.Mutex
	id string // its leader election identity, once read from its log
}

// startDirectServer starts notification-apiserver with the suite's
// server's command line, on its own port and on the etcd at etcdURL, with
// extra flags, and waits until it is ready.
func startDirectServer(t *testing.T, name, etcdURL string, flags ...string) *directServer {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(localDir, "run", "notification-apiserver.pid"))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile("/proc/" + strings.TrimSpace(string(raw)) + "/cmdline")
	if err != nil {
		t.Fatalf("reading the suite's server's command line: %v", err)
	}
	port := freePort(t)
	var args []string
	for _, a := range strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00") {
		if !strings.HasPrefix(a, "--embedded-etcd-dir") && !strings.HasPrefix(a, "--secure-port") {
			args = append(args, a)
		}
	}
	args = append(args, fmt.Sprintf("--secure-port=%d", port), "--etcd-servers="+etcdURL)
	args = append(args, flags...)

	s := &directServer{process: startChildProcess(t, name, args...), url: fmt.Sprintf("https://127.0.0.1:%d", port)}
	s.pid = s.cmd.Process.Pid
	t.Cleanup(func() { s.terminate(t) })
	pki := filepath.Join(localDir, "pki")
	cfg := &rest.Config{
		Host: s.url,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: filepath.Join(pki, "ca.crt"), CertFile: filepath.Join(pki, "admin.crt"), KeyFile: filepath.Join(pki, "admin.key"),
		},
		QPS: -1, // no client-side rate limit: the test paces itself
	}
	s.client = versioned.NewForConfigOrDie(cfg)
	s.https = adminHTTPS(t, pki)
	waitUntil(t, 120*time.Second, name+" to be ready", func() bool {
		if !s.alive() {
			t.Fatalf("%s exited; see %s", name, s.log)
		}
		resp, err := s.https.Get(s.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// /readyz can pass before the client CA from the kube-system ConfigMap
	// extension-apiserver-authentication is loaded (k8s.io/apiserver
	// loads it in the background): until then the admin certificate is
	// not asked for and the request is anonymous, 403.
	waitUntil(t, 60*time.Second, name+" to authenticate the admin certificate", func() bool {
		resp, err := s.https.Get(s.url + "/apis/notification.toolkit.fluxcd.io/v1beta2/providers")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

func adminHTTPS(t *testing.T, pki string) *http.Client {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "admin.crt"), filepath.Join(pki, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}},
	}
}

var identityRE = regexp.MustCompile(`"Campaigning for the Lease".* identity="([^"]+)"`)

// identity is what the Lease's holderIdentity shows when this server leads,
// as its log says.
func (s *directServer) identity(t *testing.T) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id != "" {
		return s.id
	}
	waitUntil(t, 30*time.Second, s.name+" to log its leader election identity", func() bool {
		data, _ := os.ReadFile(s.log)
		if m := identityRE.FindSubmatch(data); m != nil {
			s.id = string(m[1])
		}
		return s.id != ""
	})
	return s.id
}

// kill kills the server with SIGKILL and waits until it is gone.
func (s *directServer) kill(t *testing.T) {
	t.Helper()
	if !s.signal(syscall.SIGKILL, 10*time.Second) {
		t.Fatalf("%s still runs 10s after SIGKILL", s.name)
	}
}

// delivered is the server's notification_deliveries_total with outcome
// delivered, from its /metrics.
func (s *directServer) delivered(t *testing.T) float64 {
	t.Helper()
	resp, err := s.https.Get(s.url + "/metrics")
	if err != nil {
		t.Fatalf("reading %s's metrics: %v", s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s's /metrics answered %d", s.name, resp.StatusCode)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "notification_deliveries_total{") && strings.Contains(line, `outcome="delivered"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("%s's metrics: %q", s.name, line)
			}
			sum += v
		}
	}
	return sum
}

// deleteLeaseAfter deletes the Lease of the test's servers when it ends.
func deleteLeaseAfter(t *testing.T, name string) {
	t.Cleanup(func() {
		kube := kubernetes.NewForConfigOrDie(restConfig)
		_ = kube.CoordinationV1().Leases(leaseNamespace).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}
