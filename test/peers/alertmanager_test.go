// Package peers delivers events to real receivers that run here, started
// by the tests themselves: Prometheus Alertmanager (Debian's package).
package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/notifier"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// startAlertmanager runs prometheus-alertmanager on a free loopback port
// until the test ends and returns its base URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Fatalf("prometheus-alertmanager is not installed (hack/install-deps.sh installs it): %v", err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(config, []byte("route: {receiver: 'null', group_wait: 1s}\nreceivers: [{name: 'null'}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+config, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestAlertmanagerShowsTheFiringAlert(t *testing.T) {
	base := startAlertmanager(t)
	s := &settings.Settings{Type: "alertmanager", Address: base + "/api/v2/alerts"}
	client, err := notifier.NewClient(s, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n, err := notifier.New(s, client)
	if err != nil {
		t.Fatal(err)
	}
	event := notifier.Event{
		InvolvedObject: notifier.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "webapp", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Severity:       "error", Timestamp: metav1.Now(), Reason: "HealthCheckFailed",
		Message:             "health check failed after 30s",
		Metadata:            map[string]string{"revision": "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1", "summary": "prod cluster"},
		ReportingController: "kustomize-controller",
	}
	if err := n.Post(context.Background(), event); err != nil {
		t.Fatalf("posting to Alertmanager: %v", err)
	}

	resp, err := http.Get(base + `/api/v2/alerts?filter=alertname%3D%22FluxKustomizationHealthCheckFailed%22`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		Labels      map[string]string      `json:"labels"`
		Annotations map[string]string      `json:"annotations"`
		Status      struct{ State string } `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 {
		t.Fatalf("Alertmanager has %d such alerts, want 1", len(alerts))
	}
	a := alerts[0]
	if a.Status.State != "active" || a.Labels["severity"] != "error" || a.Labels["namespace"] != "apps" ||
		a.Labels["revision"] == "" || a.Annotations["message"] != event.Message || a.Annotations["summary"] != "prod cluster" {
		t.Errorf("alert %+v", a)
	}
}
