package delivery

import (
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

const eventPrefix = "event.toolkit.fluxcd.io/"

// MergeMetadata is the metadata notifiers send, as Flux merges it: the
// token is dropped; then, later sources winning, the involved object's
// annotations (event.toolkit.fluxcd.io/ stripped), the Alert's
// eventMetadata, its summary (as summary), and the controller's metadata
// (the object's group/ stripped).
func MergeMetadata(e *v1beta2.Event, a *v1beta2.Alert) map[string]string {
	group, _, _ := strings.Cut(e.InvolvedObject.APIVersion, "/")
	if !strings.Contains(e.InvolvedObject.APIVersion, "/") {
		group = ""
	}
	merged := map[string]string{}
	for k, v := range e.EventMetadata {
		if rest, ok := strings.CutPrefix(k, eventPrefix); ok {
			merged[rest] = v
		}
	}
	for k, v := range a.Spec.EventMetadata {
		merged[k] = v
	}
	if a.Spec.Summary != "" {
		merged["summary"] = a.Spec.Summary
	}
	if group != "" {
		for k, v := range e.EventMetadata {
			if rest, ok := strings.CutPrefix(k, group+"/"); ok && rest != "token" {
				merged[rest] = v
			}
		}
	}
	if len(merged) == 0 {
		return nil
	}
	return merged
}
