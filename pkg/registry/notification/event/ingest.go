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
	drops := 0
	for k := range e.EventMetadata {
		if !keepMetadata(k, group) {
			drops++
		}
	}
	switch {
	case drops == 0:
		return // most events: nothing to drop, nothing to copy
	case drops == len(e.EventMetadata):
		e.EventMetadata = nil
		return
	}
	kept := make(map[string]string, len(e.EventMetadata)-drops)
	for k, v := range e.EventMetadata {
		if keepMetadata(k, group) {
			kept[k] = v
		}
	}
	e.EventMetadata = kept
}

// keepMetadata tells whether CleanMetadata keeps the key k of an event
// whose object is of group.
func keepMetadata(k, group string) bool {
	if strings.HasPrefix(k, EventGroupPrefix) {
		return true
	}
	suffix, ok := groupKey(k, group)
	return ok && !strings.EqualFold(suffix, "checksum") && !strings.EqualFold(suffix, "digest")
}

// groupKey is what follows "group/" in k, if k starts so (group not
// empty).
func groupKey(k, group string) (string, bool) {
	if group == "" || len(k) <= len(group) || k[len(group)] != '/' || !strings.HasPrefix(k, group) {
		return "", false
	}
	return k[len(group)+1:], true
}

// DedupKey is what makes two events the same, as Flux keys its rate
// limiter: the involved object's kind, namespace and name, the message,
// and the revision, originRevision and token metadata when present. Not
// the severity, the reason nor the other metadata.
func DedupKey(e *notification.Event) string {
	obj := e.InvolvedObject
	// Built on the stack when it fits: the hash of the parts joined by
	// slashes.
	var buf [512]byte
	b := buf[:0]
	for _, part := range [...]string{"event/name=", obj.Name, "/namespace=", obj.Namespace, "/kind=", obj.Kind, "/message=", e.Message} {
		b = append(b, part...)
	}
	if group := Group(obj); len(e.EventMetadata) > 0 {
		var key [128]byte
		for _, name := range [...]string{"originRevision", "revision", "token"} {
			// The lookup of string(bytes) does not copy them.
			if v, ok := e.EventMetadata[string(append(append(append(key[:0], group...), '/'), name...))]; ok {
				b = append(append(append(append(b, '/'), name...), '='), v...)
			}
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// dedupName is the name of an event with key in a dedup window.
func dedupName(key string, window int64) string {
	return key[:32] + "-" + strconv.FormatInt(window, 36)
}
