package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// EventGroupPrefix prefixes metadata that comes from the involved object's
// annotations.
const EventGroupPrefix = "event.toolkit.fluxcd.io/"

// Group is the API group of the involved object, from its apiVersion.
func Group(io notification.ObjectReference) string {
	group, _, found := strings.Cut(io.APIVersion, "/")
	if !found {
		return "" // the core group ("v1")
	}
	return group
}

// CleanMetadata keeps, as Flux does, the metadata keys prefixed with
// event.toolkit.fluxcd.io/ or with the involved object's group, except the
// group's checksum and digest.
func CleanMetadata(e *notification.Event) {
	if len(e.EventMetadata) == 0 {
		return
	}
	group := Group(e.InvolvedObject)
	kept := make(map[string]string, len(e.EventMetadata))
	for k, v := range e.EventMetadata {
		switch {
		case strings.HasPrefix(k, EventGroupPrefix):
			kept[k] = v
		case group != "" && strings.HasPrefix(k, group+"/"):
			suffix := k[len(group)+1:]
			if strings.EqualFold(suffix, "checksum") || strings.EqualFold(suffix, "digest") {
				continue
			}
			kept[k] = v
		}
	}
	if len(kept) == 0 {
		kept = nil
	}
	e.EventMetadata = kept
}

// DedupKey is what makes two events the same, as Flux keys its rate
// limiter: the involved object's kind, namespace and name, the message,
// and the revision, originRevision and token metadata when present. Not
// the severity, the reason nor the other metadata.
func DedupKey(e *notification.Event) string {
	io := e.InvolvedObject
	parts := []string{"event", "name=" + io.Name, "namespace=" + io.Namespace, "kind=" + io.Kind, "message=" + e.Message}
	group := Group(io)
	for _, key := range []string{"originRevision", "revision", "token"} {
		if v, ok := e.EventMetadata[group+"/"+key]; ok {
			parts = append(parts, key+"="+v)
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

// dedupName is the name of an event with key in a dedup window.
func dedupName(key string, window int64) string {
	return key[:32] + "-" + strconv.FormatInt(window, 36)
}
