package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

func TestAPIResourcesListProvidersAndAlerts(t *testing.T) {
	out := mustKubectl(t, "api-resources", "--api-group=notification.toolkit.fluxcd.io", "-o", "wide")
	for _, resource := range []string{"providers", "alerts"} {
		if !regexp.MustCompile(`(?m)^` + resource + `\s.*notification.toolkit.fluxcd.io/v1beta2\s+true\s`).MatchString(out) {
			t.Errorf("api-resources lacks namespaced %s:\n%s", resource, out)
		}
	}
	if !strings.Contains(out, "all,flux") {
		t.Errorf("api-resources shows no all,flux categories:\n%s", out)
	}
}

func TestGetPrintsTableColumns(t *testing.T) {
	createNamespace(t, "e2e-table")
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: hook, namespace: e2e-table}
spec: {type: generic, address: "https://example.com/hook"}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: all-kustomizations, namespace: e2e-table}
spec:
  providerRef: {name: hook}
  eventSources: [{kind: Kustomization, name: '*'}]
`))
	for _, resource := range []string{"providers.notification", "alerts.notification"} {
		out := mustKubectl(t, "get", resource, "-A")
		header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
		if strings.Join(header, " ") != "NAMESPACE NAME AGE READY STATUS" {
			t.Errorf("kubectl get %s -A header %v, want NAMESPACE NAME AGE READY STATUS", resource, header)
		}
		if !strings.Contains(out, "e2e-table") {
			t.Errorf("kubectl get %s -A does not list e2e-table:\n%s", resource, out)
		}
	}
	out := mustKubectl(t, "get", "flux", "-n", "e2e-table")
	if !strings.Contains(out, "provider.notification.toolkit.fluxcd.io/hook") || !strings.Contains(out, "alert.notification.toolkit.fluxcd.io/all-kustomizations") {
		t.Errorf("kubectl get flux lacks the Provider or the Alert:\n%s", out)
	}
}

// writeManifest writes a manifest to a file of the test and returns its path.
func writeManifest(t *testing.T, manifest string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExamplesApplyServerSideAndRoundTrip(t *testing.T) {
	examples := filepath.Join(root, "artifacts", "examples")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "-f", examples, "--ignore-not-found", "--wait=false") })
	out := mustKubectl(t, "apply", "--server-side", "-f", examples)
	for _, want := range []string{"provider.notification.toolkit.fluxcd.io/slack-bot serverside-applied", "alert.notification.toolkit.fluxcd.io/slack serverside-applied", "secret/slack-bot-token serverside-applied"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	// The server writes status until the objects are Ready: wait for that,
	// so that only the re-apply could change a resourceVersion.
	for _, obj := range []string{"provider/slack-bot", "provider/webhook", "alert/slack", "alert/kustomizations"} {
		waitFor(t, "flagger-system", obj, "condition=Ready")
	}
	rv := func() string {
		return mustKubectl(t, "get", "-n", "flagger-system", "provider/slack-bot", "alert/slack", "-o", "jsonpath={.items[*].metadata.resourceVersion}")
	}
	before := rv()
	mustKubectl(t, "apply", "--server-side", "-f", examples)
	if after := rv(); after != before {
		t.Errorf("re-applying the examples changed resourceVersions %s -> %s", before, after)
	}

	// The example Event is stored once; the same again is a duplicate.
	events := filepath.Join(examples, "events")
	mustKubectl(t, "create", "-f", events)
	if out, err := kubectl(t, "create", "-f", events); err == nil || !strings.Contains(out, "AlreadyExists") {
		t.Errorf("the example Event posted twice: %v\n%s", err, out)
	}

	// Every field of the manifests comes back as written.
	manifest, err := os.ReadFile(filepath.Join(examples, "slack-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(manifest), "\n---\n") {
		var want map[string]any
		if err := yaml.Unmarshal([]byte(doc), &want); err != nil || want == nil {
			continue
		}
		md := want["metadata"].(map[string]any)
		got := getObject(t, "-n", md["namespace"].(string), strings.ToLower(want["kind"].(string))+"/"+md["name"].(string))
		if diff := missing(want["spec"], got["spec"], "spec"); diff != "" {
			t.Errorf("%s %s: %s", want["kind"], md["name"], diff)
		}
	}
}

func getObject(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out := mustKubectl(t, append([]string{"get", "-o", "yaml"}, args...)...)
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("decoding kubectl get: %v", err)
	}
	return obj
}

// missing reports the first value of want that got lacks or differs in.
func missing(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want a map", path, got)
		}
		for k, v := range w {
			if d := missing(v, g[k], path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		for i := range w {
			if d := missing(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %v, want %v", path, got, want)
		}
		return ""
	}
}

func TestEveryProviderFieldRoundTrips(t *testing.T) {
	createNamespace(t, "e2e-fields")
	manifest := `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: every-field, namespace: e2e-fields, labels: {team: platform}}
spec:
  type: generic-hmac
  interval: 5m0s
  channel: deployments
  username: flux
  address: https://hooks.example.com/flux
  timeout: 30s
  proxy: http://proxy.example.com:3128
  secretRef: {name: hmac-token}
  certSecretRef: {name: hooks-ca}
  suspend: true
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: every-field, namespace: e2e-fields}
spec:
  providerRef: {name: every-field}
  summary: cluster eu-west-1
  eventSeverity: error
  eventSources:
  - {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: '*', namespace: apps, matchLabels: {tier: web}}
  - {kind: HelmRelease, name: podinfo}
  inclusionList: [".*succeeded.*"]
  exclusionList: [".*upgrade.*has.*started"]
  eventMetadata: {cluster: eu-west-1}
  suspend: true
`
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, manifest))
	for _, doc := range strings.Split(manifest, "\n---\n") {
		var want map[string]any
		if err := yaml.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		got := getObject(t, "-n", "e2e-fields", strings.ToLower(want["kind"].(string))+"/every-field")
		if diff := missing(want["spec"], got["spec"], "spec"); diff != "" {
			t.Errorf("%s: %s", want["kind"], diff)
		}
		if diff := missing(want["metadata"], got["metadata"], "metadata"); diff != "" {
			t.Errorf("%s: %s", want["kind"], diff)
		}
	}
}

func TestInvalidProviderIsRefusedThroughKubectl(t *testing.T) {
	createNamespace(t, "e2e-invalid")
	out, err := kubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: bad, namespace: e2e-invalid}
spec: {type: carrier-pigeon, proxy: "ftp://proxy"}
`))
	if err == nil {
		t.Fatalf("an invalid Provider was applied:\n%s", out)
	}
	for _, want := range []string{"spec.type", "Unsupported value", "spec.proxy"} {
		if !strings.Contains(out, want) {
			t.Errorf("error lacks %q:\n%s", want, out)
		}
	}
	if out, err := kubectl(t, "get", "-n", "e2e-invalid", "provider/bad"); err == nil {
		t.Errorf("the refused Provider exists:\n%s", out)
	}
}

func TestExplainReadsFieldDocsFromOpenAPIV3(t *testing.T) {
	for query, want := range map[string][]string{
		"provider.spec.type":       {"KIND:       Provider", "FIELD: type <string>", "Type of the provider"},
		"alert.spec.eventSources":  {"KIND:       Alert", "FIELD: eventSources <[]CrossNamespaceObjectReference>", "matchLabels\t<map[string]string>", "kind\t<string> -required-"},
		"providers.spec.secretRef": {"SecretRef names a Secret"},
	} {
		out := mustKubectl(t, "explain", query)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl explain %s lacks %q:\n%s", query, w, out)
			}
		}
	}
}

func TestDelegatedAuthorization(t *testing.T) {
	createNamespace(t, "e2e-rbac")
	user := "e2e-reader"
	if out, err := kubectl(t, "get", "providers", "-n", "e2e-rbac", "--as="+user); err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("a user without a grant listed providers: %v\n%s", err, out)
	}
	mustKubectl(t, "-n", "e2e-rbac", "create", "role", "provider-reader", "--verb=get,list,watch",
		"--resource=providers.notification.toolkit.fluxcd.io")
	mustKubectl(t, "-n", "e2e-rbac", "create", "rolebinding", "provider-reader", "--role=provider-reader", "--user="+user)
	// The server caches authorization decisions for a second.
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := kubectl(t, "get", "providers", "-n", "e2e-rbac", "--as="+user)
		return err == nil, nil
	})
	if err != nil {
		t.Errorf("after the RoleBinding the user still cannot list providers: %v", err)
	}
	if out, err := kubectl(t, "get", "alerts", "-n", "e2e-rbac", "--as="+user); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("the grant on providers also let the user list alerts: %v\n%s", err, out)
	}
	if out, err := kubectl(t, "get", "providers", "-n", "default", "--as="+user); err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("the RoleBinding in e2e-rbac let the user list providers in default: %v\n%s", err, out)
	}
}

// jsonOf encodes v for a request body.
func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
