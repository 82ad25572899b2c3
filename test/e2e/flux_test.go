package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFluxRecorderThroughTheReceiver runs test/flux, which posts events
// with Flux's own recorder to the receiver sidecar, and checks what the
// server stored.
func TestFluxRecorderThroughTheReceiver(t *testing.T) {
	ns := "e2e-flux"
	createNamespace(t, ns)
	url, err := os.ReadFile(filepath.Join(localDir, "receiver-url"))
	if err != nil {
		t.Fatalf("the control plane has no receiver: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), "go", "test", "-count=1", "./...")
	cmd.Dir = filepath.Join(root, "test", "flux")
	cmd.Env = append(os.Environ(), "RECEIVER_URL="+strings.TrimSpace(string(url)), "E2E_NAMESPACE="+ns)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("test/flux: %v\n%s", err, out)
	}

	out := mustKubectl(t, "get", "events.notification", "-n", ns, "-o", "json")
	var list struct {
		Items []struct {
			InvolvedObject      map[string]string `json:"involvedObject"`
			Severity            string            `json:"severity"`
			Reason              string            `json:"reason"`
			Message             string            `json:"message"`
			EventMetadata       map[string]string `json:"eventMetadata"`
			ReportingController string            `json:"reportingController"`
			ReportingInstance   string            `json:"reportingInstance"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d events stored, want 2 (the duplicate dropped):\n%s", len(list.Items), out)
	}
	var sawError bool
	for _, e := range list.Items {
		if e.InvolvedObject["kind"] != "Kustomization" || e.InvolvedObject["name"] != "webapp" || e.ReportingController != "kustomize-controller" || e.ReportingInstance == "" {
			t.Errorf("stored %+v", e)
		}
		if e.Severity == "error" {
			sawError = true
			if e.Reason != "ValidationFailed" || !strings.Contains(e.Message, "Unsupported value: Ingress") ||
				e.EventMetadata["kustomize.toolkit.fluxcd.io/revision"] == "" || e.EventMetadata["event.toolkit.fluxcd.io/cluster"] != "e2e" {
				t.Errorf("the error event was stored as %+v", e)
			}
		}
	}
	if !sawError {
		t.Error("no error event stored")
	}
}
