// Package flux posts events with Flux's own event recorder
// (github.com/fluxcd/pkg/runtime/events), a client nobody here wrote, to
// the receiver sidecar. It is a separate module so that Flux's
// dependencies stay out of the product's go.mod. test/e2e runs it against
// its control plane (RECEIVER_URL, E2E_NAMESPACE) and checks what was stored.
package flux

import (
	"os"
	"testing"

	"github.com/fluxcd/pkg/runtime/events"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestFluxRecorderPostsToTheReceiver(t *testing.T) {
	url, ns := os.Getenv("RECEIVER_URL"), os.Getenv("E2E_NAMESPACE")
	if url == "" || ns == "" {
		t.Fatal("RECEIVER_URL and E2E_NAMESPACE must be set: test/e2e runs this test")
	}
	// Flux's recorder needs a logger with a sink.
	log := funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{})
	recorder, err := events.NewRecorder(log, url, "kustomize-controller", events.WithScheme(runtime.NewScheme()))
	if err != nil {
		t.Fatalf("creating Flux's recorder: %v", err)
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
	obj.SetKind("Kustomization")
	obj.SetNamespace(ns)
	obj.SetName("webapp")
	obj.SetAnnotations(map[string]string{"event.toolkit.fluxcd.io/cluster": "e2e", "other": "ignored"})

	metadata := map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"}
	// The same error twice (the second is a duplicate, answered 429, which
	// Flux's recorder does not retry) and one info event.
	for range 2 {
		recorder.AnnotatedEventf(obj, nil, metadata, corev1.EventTypeWarning, "ValidationFailed", "reconcile",
			"service/%s/webapp validation error: spec.type: Unsupported value: Ingress", ns)
	}
	recorder.AnnotatedEventf(obj, nil, metadata, corev1.EventTypeNormal, "ReconciliationSucceeded", "reconcile",
		"Reconciliation finished in 1.2s, next run in 10m")
}
