package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAnAdmissionPolicyOnEventsHoldsForBatchItems: a
// ValidatingAdmissionPolicy on events.notification refuses the Events it
// denies however they come: a create alone, an item of an EventBatch (the
// item gets the refusal, the others are stored) and an event posted to the
// receiver, which sends batches.
func TestAnAdmissionPolicyOnEventsHoldsForBatchItems(t *testing.T) {
	ns := "e2e-admission"
	createNamespace(t, ns)
	const denied = "a message the policy denies"
	policy := fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: %[1]s}
spec:
  failurePolicy: Fail
  matchConstraints:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: %[1]s}
    resourceRules:
    - apiGroups: [notification.toolkit.fluxcd.io]
      apiVersions: ["*"]
      operations: [CREATE]
      resources: [events]
  validations:
  - expression: "object.message != '%[2]s'"
    message: the policy of this test denies it
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: %[1]s}
spec:
  policyName: %[1]s
  validationActions: [Deny]
`, ns, denied)
	path := writeManifest(t, policy)
	mustKubectl(t, "apply", "-f", path)
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "-f", path, "--ignore-not-found") })

	event := func(message string) string {
		return fmt.Sprintf(`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","metadata":{"namespace":%q,"generateName":"e-"},
"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","name":"apps","namespace":%[1]q},
"severity":"info","timestamp":"2026-11-27T10:00:00Z","reason":"ReconciliationSucceeded","message":%q,"reportingController":"kustomize-controller"}`, ns, message)
	}
	// The server sees the policy once its informer has it.
	var out string
	var err error
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err = kubectl(t, "create", "-f", writeManifest(t, event(denied)))
		if err != nil || time.Now().After(deadline) {
			break
		}
		mustKubectl(t, "-n", ns, "delete", "events.notification", "--all")
		time.Sleep(time.Second)
	}
	if err == nil || !strings.Contains(out, "the policy of this test denies it") {
		t.Fatalf("a create alone of a denied Event: %v: %s; want the policy's refusal", err, out)
	}

	batch := `{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"EventBatch","metadata":{"namespace":"` + ns + `"},"items":[` +
		event(denied) + "," + event("allowed in a batch") + `]}`
	// kubectl create -f would take a manifest with items for a List and
	// create each alone: post the batch as it is.
	created := mustKubectl(t, "create", "--raw", "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/"+ns+"/eventbatches",
		"-f", writeManifest(t, batch))
	var answer struct {
		Results []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(created), &answer); err != nil {
		t.Fatalf("the batch's answer %s: %v", created, err)
	}
	if len(answer.Results) != 2 || answer.Results[0].Code != http.StatusUnprocessableEntity ||
		!strings.Contains(answer.Results[0].Message, "the policy of this test denies it") || answer.Results[1].Code != http.StatusCreated {
		t.Errorf("batch results %+v, want the denied item refused by the policy (422) and the other created", answer.Results)
	}

	receiver := newReceiverClient(t)
	if code, err := receiver.post(ns, "apps", denied); err != nil || code/100 == 2 {
		t.Errorf("the receiver answered the denied event %d (%v), want a refusal", code, err)
	}
	if code, err := receiver.post(ns, "apps", "allowed through the receiver"); err != nil || code != http.StatusAccepted {
		t.Errorf("the receiver answered an allowed event %d (%v), want 202", code, err)
	}

	stored := mustKubectl(t, "-n", ns, "get", "events.notification", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
	if strings.Contains(stored, denied) || !strings.Contains(stored, "allowed in a batch") || !strings.Contains(stored, "allowed through the receiver") {
		t.Errorf("stored Events:\n%s\nwant the two allowed ones and no denied one", stored)
	}
}
