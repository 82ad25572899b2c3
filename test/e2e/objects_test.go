package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"gopkg.in/yaml.v3"
)

// Manifests as objects, applied server-side with kubectl.

func secretObject(ns, name string, data map[string]string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"namespace": ns, "name": name}, "stringData": data}
}

func providerObject(ns, name string, spec map[string]any) map[string]any {
	return map[string]any{"apiVersion": "notification.toolkit.fluxcd.io/v1beta2", "kind": "Provider",
		"metadata": map[string]any{"namespace": ns, "name": name}, "spec": spec}
}

// alertObject takes the events of every object of kind, in sourceNamespace
// when given.
func alertObject(ns, name, provider, kind string, sourceNamespace ...string) map[string]any {
	source := map[string]any{"kind": kind, "name": "*"}
	if len(sourceNamespace) > 0 {
		source["namespace"] = sourceNamespace[0]
	}
	return map[string]any{"apiVersion": "notification.toolkit.fluxcd.io/v1beta2", "kind": "Alert",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec":     map[string]any{"providerRef": map[string]any{"name": provider}, "eventSources": []any{source}}}
}

// applyObjects applies objects server-side through the kube-apiserver, or
// to the server of serverArgs; it returns kubectl's warnings.
func applyObjects(t *testing.T, serverArgs []string, objects ...map[string]any) string {
	t.Helper()
	var docs []string
	for _, o := range objects {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(y))
	}
	_, warnings, err := kubectlStreams(t, append(serverArgs, "apply", "--server-side", "-f", writeManifest(t, strings.Join(docs, "---\n")))...)
	if err != nil {
		t.Fatal(err)
	}
	return warnings
}

// createEvent creates an Event about kind ns/name.
func createEvent(t *testing.T, serverArgs []string, ns, name, kind, object, severity, message string) {
	t.Helper()
	group := map[string]string{"Kustomization": "kustomize.toolkit.fluxcd.io/v1", "HelmRelease": "helm.toolkit.fluxcd.io/v2",
		"GitRepository": "source.toolkit.fluxcd.io/v1"}[kind]
	mustKubectl(t, append(serverArgs, "create", "-f", writeManifest(t, fmt.Sprintf(`
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Event
metadata: {namespace: %s, name: %s}
involvedObject: {apiVersion: %s, kind: %s, name: %s, namespace: %s}
severity: %s
timestamp: "2026-11-26T10:00:00Z"
reason: Testing
message: %q
reportingController: e2e
`, ns, name, group, kind, object, ns, severity, message)))...)
}

// waitEvent polls an Event until done says so, for up to two minutes.
func waitEvent(t *testing.T, serverArgs []string, ns, name string, done func(*v1beta2.Event) bool) *v1beta2.Event {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var e v1beta2.Event
	for {
		out, err := kubectl(t, append(serverArgs, "-n", ns, "get", "events.notification", name, "-o", "json")...)
		if err == nil {
			if err := json.Unmarshal([]byte(out), &e); err != nil {
				t.Fatalf("decoding Event %s/%s: %v", ns, name, err)
			}
			if done(&e) {
				return &e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Event %s/%s did not get there in 2m: %v; status %+v", ns, name, err, e.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitKubeEvents waits until the reconciler's Kubernetes Events about each
// Provider have reached the API.
func waitKubeEvents(t *testing.T, ns string, providers ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range providers {
		for {
			out := mustKubectl(t, "-n", ns, "get", "events", "--field-selector", "involvedObject.name="+p+",type=Warning", "-o", "name")
			if strings.TrimSpace(out) != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no Warning Event about Provider %s within 60s", p)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// waitForOn is waitFor on the server of serverArgs.
func waitForOn(t *testing.T, serverArgs []string, ns, object, condition string) {
	t.Helper()
	args := append(serverArgs, "-n", ns, "wait", object, "--for="+condition, "--timeout=60s")
	if out, err := kubectl(t, args...); err != nil {
		status, _ := kubectl(t, append(serverArgs, "-n", ns, "get", object, "-o", "jsonpath={.status}")...)
		t.Fatalf("%s never met %s: %v\n%s\nstatus: %s", object, condition, err, out, status)
	}
}

// waitChecked waits until the reconciler has checked an object (provider/x
// or alert/x), ready or not: its Ready condition says more than that
// reconciliation is in progress.
func waitChecked(t *testing.T, ns, object string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		reason, _ := kubectl(t, "-n", ns, "get", object, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}`)
		if reason != "" && reason != "Progressing" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s was not checked within 60s (Ready reason %q)", ns, object, reason)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
