package validation

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

func validEvent() *notification.Event {
	return &notification.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "e"},
		InvolvedObject: notification.ObjectReference{
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "webapp", Namespace: "apps",
		},
		Severity: "error", Timestamp: metav1.Now(), Message: "validation error", Reason: "ValidationFailed",
		ReportingController: "kustomize-controller",
	}
}

func TestValidateEvent(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*notification.Event)
		want   []string
	}{
		{"a Flux event is valid", func(*notification.Event) {}, nil},
		{"the object's namespace must be the Event's", func(e *notification.Event) { e.InvolvedObject.Namespace = "other" }, []string{"FieldValueInvalid involvedObject.namespace"}},
		{"the object's namespace is required", func(e *notification.Event) { e.InvolvedObject.Namespace = "" }, []string{"FieldValueRequired involvedObject.namespace"}},
		{"the object's kind is required", func(e *notification.Event) { e.InvolvedObject.Kind = "" }, []string{"FieldValueRequired involvedObject.kind"}},
		{"the object's name is required", func(e *notification.Event) { e.InvolvedObject.Name = "" }, []string{"FieldValueRequired involvedObject.name"}},
		{"an apiVersion with spaces is refused", func(e *notification.Event) { e.InvolvedObject.APIVersion = "a b/v1" }, []string{"FieldValueInvalid involvedObject.apiVersion"}},
		{"trace is not a severity to store", func(e *notification.Event) { e.Severity = "trace" }, []string{"FieldValueNotSupported severity"}},
		{"the severity is required", func(e *notification.Event) { e.Severity = "" }, []string{"FieldValueRequired severity"}},
		{"the timestamp is required", func(e *notification.Event) { e.Timestamp = metav1.Time{} }, []string{"FieldValueRequired timestamp"}},
		{"the message is required", func(e *notification.Event) { e.Message = "" }, []string{"FieldValueRequired message"}},
		{"a message over 39000 characters is too long", func(e *notification.Event) { e.Message = strings.Repeat("m", 39001) }, []string{"FieldValueTooLong message"}},
		{"the reason is required", func(e *notification.Event) { e.Reason = "" }, []string{"FieldValueRequired reason"}},
		{"the reporting controller is required", func(e *notification.Event) { e.ReportingController = "" }, []string{"FieldValueRequired reportingController"}},
		{"too many metadata keys are refused", func(e *notification.Event) {
			e.EventMetadata = map[string]string{}
			for i := range MaxEventMetadataKeys + 1 {
				e.EventMetadata[strings.Repeat("k", i+1)] = "v"
			}
		}, []string{"FieldValueTooMany eventMetadata"}},
		{"too much metadata is refused", func(e *notification.Event) {
			e.EventMetadata = map[string]string{"a": strings.Repeat("v", MaxEventMetadataBytes)}
		}, []string{"FieldValueTooLong eventMetadata"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvent()
			tc.mutate(e)
			got := paths(ValidateEvent(e))
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("errors %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateEventStatusUpdate(t *testing.T) {
	old := validEvent()
	old.ResourceVersion = "1"
	e := validEvent()
	e.ResourceVersion = "1"
	e.Status.Deliveries = []notification.Delivery{
		{Alert: "a", Provider: "p", State: "Delivered", Attempts: 1},
		{Alert: "a", Provider: "p", State: "Pending"},
		{Alert: "b", Provider: "p", State: "Lost", Attempts: -1},
	}
	got := paths(ValidateEventStatusUpdate(e, old))
	want := []string{"FieldValueDuplicate status.deliveries[1]", "FieldValueInvalid status.deliveries[2].attempts", "FieldValueNotSupported status.deliveries[2].state"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("errors %v, want %v", got, want)
	}
}

func BenchmarkValidateEvent(b *testing.B) {
	flux := validEvent()
	flux.Message = "Kustomization/apps/webapp dry-run failed: " + strings.Repeat("error validating data: ", 20)
	flux.EventMetadata = map[string]string{
		"revision": "main@sha1:4f1e2c3b5a6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f", "summary": "production", "env": "prod",
	}
	flux.ReportingInstance = "kustomize-controller-7d9f8b6c5-x2x4z"
	largest := validEvent()
	largest.Message = strings.Repeat("m", MaxEventMessageLength)
	largest.EventMetadata = map[string]string{}
	for i := range MaxEventMetadataKeys {
		largest.EventMetadata[fmt.Sprintf("key-%03d", i)] = strings.Repeat("v", MaxEventMetadataBytes/MaxEventMetadataKeys-8)
	}
	invalid := validEvent()
	invalid.InvolvedObject.Namespace, invalid.Severity, invalid.Reason = "other", "trace", ""
	for _, bc := range []struct {
		name  string
		event *notification.Event
		valid bool
	}{{"a Flux event", flux, true}, {"the largest event", largest, true}, {"an invalid event", invalid, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if errs := ValidateEvent(bc.event); (len(errs) == 0) != bc.valid {
					b.Fatalf("errors %v", errs)
				}
			}
		})
	}
}
