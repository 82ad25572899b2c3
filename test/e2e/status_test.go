package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBadProvidersAreRefusedNamingTheField(t *testing.T) {
	createNamespace(t, "e2e-refused")
	for name, tc := range map[string]struct {
		spec string
		want []string
	}{
		"bad-address":      {`{type: generic, address: "not-a-url"}`, []string{"spec.address", "absolute http or https URL"}},
		"bad-proxy":        {`{type: slack, address: "https://slack.com/api/chat.postMessage", proxy: "socks5://proxy:1080"}`, []string{"spec.proxy", "absolute http or https URL"}},
		"unknown-type":     {`{type: carrier-pigeon}`, []string{"spec.type", "Unsupported value", `"carrier-pigeon"`}},
		"not-a-repository": {`{type: github, address: "https://github.com/only-an-owner"}`, []string{"spec.address", "<owner>/<repository>"}},
		"no-topic":         {`{type: googlepubsub, address: my-gcp-project}`, []string{"spec.channel", "Pub/Sub topic"}},
	} {
		out, err := kubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: `+name+`, namespace: e2e-refused}
spec: `+tc.spec+`
`))
		if err == nil {
			t.Errorf("%s was applied:\n%s", name, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: kubectl's message lacks %q:\n%s", name, w, out)
			}
		}
	}
	if out := mustKubectl(t, "get", "providers", "-n", "e2e-refused", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("refused Providers were stored:\n%s", out)
	}
}

const e2eToken = "xoxb-e2e-n0t-t0-be-seen"

func TestSlackExampleBecomesReadyAndFollowsItsSecret(t *testing.T) {
	ns := "e2e-status"
	createNamespace(t, ns)
	provider := writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: slack-bot, namespace: e2e-status}
spec:
  type: slack
  channel: general
  address: https://slack.com/api/chat.postMessage
  secretRef: {name: slack-bot-token}
`)
	_, warnings, err := kubectlStreams(t, "apply", "--server-side", "-f", provider)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warnings, "Warning: spec.secretRef: Secret e2e-status/slack-bot-token does not exist") {
		t.Errorf("kubectl printed no warning about the missing Secret:\n%s", warnings)
	}
	waitFor(t, ns, "provider/slack-bot", `jsonpath={.status.conditions[?(@.type=="Reconciling")].reason}=ProgressingWithRetry`)

	mustKubectl(t, "-n", ns, "create", "secret", "generic", "slack-bot-token", "--from-literal=token="+e2eToken)
	waitFor(t, ns, "provider/slack-bot", "condition=Ready")

	// The reconciler's Kubernetes Event about it goes out after the status
	// that says Ready (client-go's recorder sends Events on its own).
	describe := mustKubectl(t, "-n", ns, "describe", "provider", "slack-bot")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(describe, "Reconciliation finished") && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		describe = mustKubectl(t, "-n", ns, "describe", "provider", "slack-bot")
	}
	for _, want := range []string{"Conditions:", "Type:                  Ready", "Message:               Initialized", "Reason:                Succeeded",
		"Observed Generation:", "Reconciliation finished, next run in 10m"} {
		if !strings.Contains(describe, want) {
			t.Errorf("kubectl describe lacks %q:\n%s", want, describe)
		}
	}

	mustKubectl(t, "-n", ns, "delete", "secret", "slack-bot-token")
	waitFor(t, ns, "provider/slack-bot", `jsonpath={.status.conditions[?(@.type=="Reconciling")].reason}=ProgressingWithRetry`)
	waitFor(t, ns, "provider/slack-bot", "condition=Ready=False")

	mustKubectl(t, "-n", ns, "create", "secret", "generic", "slack-bot-token", "--from-literal=token="+e2eToken)
	waitFor(t, ns, "provider/slack-bot", "condition=Ready")

	// An Alert on it becomes Ready too.
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: slack, namespace: e2e-status}
spec:
  providerRef: {name: slack-bot}
  eventSources: [{kind: HelmRelease, name: '*'}]
`))
	waitFor(t, ns, "alert/slack", "condition=Ready")
}

func TestANonURLSecretAddressStallsTheProvider(t *testing.T) {
	ns := "e2e-stalled"
	createNamespace(t, ns)
	mustKubectl(t, "-n", ns, "create", "secret", "generic", "hook", "--from-literal=address=not a url "+e2eToken)
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: hook, namespace: e2e-stalled}
spec: {type: generic, secretRef: {name: hook}}
`))
	waitFor(t, ns, "provider/hook", "condition=Stalled")
	reason := mustKubectl(t, "-n", ns, "get", "provider", "hook", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].reason}`)
	if reason != "InvalidURL" {
		t.Errorf("Ready reason %q, want InvalidURL", reason)
	}
}

// TestSecretsNeverShow runs after the others (Go runs tests in file order,
// and this file's name sorts last): the tests above put e2eToken in Secrets.
func TestSecretsNeverShow(t *testing.T) {
	for _, args := range [][]string{
		{"get", "providers.notification", "-A", "-o", "yaml"},
		{"get", "alerts.notification", "-A", "-o", "yaml"},
		{"get", "events", "-A", "-o", "yaml"},
		{"get", "events.notification", "-A", "-o", "yaml"},
	} {
		out := mustKubectl(t, args...)
		for _, secret := range []string{e2eToken, "xoxb-e2e-slack-token"} {
			if strings.Contains(out, secret) {
				t.Errorf("kubectl %s shows a Secret's value", strings.Join(args, " "))
			}
		}
	}
	logs, _ := filepath.Glob(filepath.Join(localDir, "logs", "notification-apiserver.log"))
	if len(logs) == 0 {
		t.Fatalf("no notification-apiserver log in %s", localDir)
	}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{e2eToken, "xoxb-e2e-slack-token"} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s shows a Secret's value", l)
			}
		}
	}
}

func waitFor(t *testing.T, ns, object, condition string) {
	t.Helper()
	if out, err := kubectl(t, "-n", ns, "wait", object, "--for="+condition, "--timeout=60s"); err != nil {
		status, _ := kubectl(t, "-n", ns, "get", object, "-o", "jsonpath={.status}")
		t.Fatalf("%s never met %s: %v\n%s\nstatus: %s", object, condition, err, out, status)
	}
}
