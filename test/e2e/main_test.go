// Package e2e drives notification-apiserver the way users do: through a
// real kube-apiserver's aggregation layer, with /usr/bin/kubectl and the
// generated clientset. TestMain brings up its own local control plane
// (hack/local-up.sh) on free ports and stops it when the tests end.
package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

var (
	pubsubHost string // host:port of the Pub/Sub emulator
	root       string // the repository
	kubeconfig string // the admin kubeconfig of the control plane
	localDir   string // the control plane's state: logs/, pki/, ...
	restConfig *rest.Config
	client     versioned.Interface
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	root = filepath.Clean(filepath.Join(wd, "..", ".."))
	localDir = os.Getenv("E2E_LOCAL_DIR")
	if localDir == "" {
		if localDir, err = os.MkdirTemp("", "notification-e2e-"); err != nil {
			panic(err)
		}
		defer os.RemoveAll(localDir)
	}
	env := append(os.Environ(), "LOCAL_DIR="+localDir)
	// The fault tests wait for deliveries retried after an outage: cap
	// the wait between two attempts at 5s instead of 5 min. Flags given
	// in NOTIFICATION_FLAGS come after, so they win.
	env = append(env, "NOTIFICATION_FLAGS=--delivery-max-backoff=5s "+os.Getenv("NOTIFICATION_FLAGS"))

	// The Pub/Sub emulator, for the googlepubsub Provider: the server
	// talks to it through PUBSUB_EMULATOR_HOST, Google's convention.
	emulator, stopEmulator, err := startPubSubEmulator()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer stopEmulator()
	pubsubHost = emulator
	env = append(env, "PUBSUB_EMULATOR_HOST="+emulator)

	down := func() {
		cmd := exec.Command(filepath.Join(root, "hack", "local-down.sh"))
		cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
		_ = cmd.Run()
	}
	// Stop the control plane when interrupted, too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		down()
		os.Exit(1)
	}()
	defer down()

	up := exec.Command(filepath.Join(root, "hack", "local-up.sh"))
	up.Env, up.Stdout, up.Stderr = env, os.Stdout, os.Stderr
	if err := up.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: bringing up the control plane: %v\n", err)
		dumpLogs(localDir)
		return 1
	}
	kubeconfig = filepath.Join(localDir, "kubeconfig")
	if restConfig, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: loading %s: %v\n", kubeconfig, err)
		return 1
	}
	client = versioned.NewForConfigOrDie(restConfig)
	code := m.Run()
	if code != 0 {
		dumpLogs(localDir)
	}
	return code
}

func dumpLogs(localDir string) {
	logs, _ := filepath.Glob(filepath.Join(localDir, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(string(data), "\n")
		fmt.Fprintf(os.Stderr, "==== last lines of %s\n%s\n", l, strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// kubectl runs /usr/bin/kubectl (or $KUBECTL) against the control plane
// and returns its output; on an error, with its standard error.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := kubectlStreams(t, args...)
	if err != nil {
		return out + errOut, err
	}
	return out, nil
}

// kubectlStreams runs kubectl and returns its output and its standard error
// (where kubectl prints the server's warnings).
func kubectlStreams(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String(), nil
}

// mustKubectl is kubectl that fails the test on an error.
func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// createNamespace makes a namespace for one test and deletes it after.
func createNamespace(t *testing.T, name string) {
	t.Helper()
	mustKubectl(t, "create", "namespace", name)
	t.Cleanup(func() {
		cmd := exec.Command("kubectl", "delete", "namespace", name, "--wait=false", "--ignore-not-found")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		_ = cmd.Run()
	})
}

const pubsubEmulator = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"

// startPubSubEmulator starts the Google Pub/Sub emulator on a free loopback
// port and returns its host:port and how to stop it.
func startPubSubEmulator() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(pubsubEmulator, "--host=127.0.0.1", fmt.Sprintf("--port=%d", port))
	cmd.Env = append(os.Environ(), "JAVA_TOOL_OPTIONS=-Xmx256m")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a script that starts java: stop both
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting the Pub/Sub emulator: %w", err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return host, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the Pub/Sub emulator is not ready after 90s: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
