package validation

import (
	"fmt"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// Limits on Events.
const (
	// MaxEventMessageLength bounds an Event's message, as Flux's marker does.
	MaxEventMessageLength = 39000
	// MaxEventMetadataKeys bounds the number of an Event's metadata entries.
	MaxEventMetadataKeys = 100
	// MaxEventMetadataBytes bounds the total size of an Event's metadata.
	MaxEventMetadataBytes = 64 * 1024
	// MaxEventShortField bounds reason, reporting controller and instance.
	MaxEventShortField = 253
	// MaxDeliveries bounds the deliveries recorded in an Event's status.
	MaxDeliveries = 1024
	// MaxDeliveryMessageLength bounds one delivery's message.
	MaxDeliveryMessageLength = 1024
)

var (
	severities2    = []string{notification.SeverityInfo, notification.SeverityError}
	deliveryStates = []string{notification.DeliveryPending, notification.DeliveryDelivered, notification.DeliveryFailed, notification.DeliverySkipped}
)

// ValidateEvent checks an Event on create.
func ValidateEvent(e *notification.Event) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateEventBody(e)...)
	return allErrs
}

// ValidateEventUpdate checks an update of an Event: an Event is immutable
// but for its metadata's labels, annotations and finalizers.
func ValidateEventUpdate(e, old *notification.Event) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateEventBody(e)...)
	return allErrs
}

// ValidateEventStatusUpdate checks a write of an Event's deliveries.
func ValidateEventStatusUpdate(e, old *notification.Event) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateEventStatus(e)...)
}

// ValidateEventStatus checks an Event's status alone: what the delivery
// loop writes onto the metadata it read, which needs no comparing.
func ValidateEventStatus(e *notification.Event) field.ErrorList {
	var allErrs field.ErrorList
	if len(e.Status.Message) > MaxDeliveryMessageLength {
		allErrs = append(allErrs, field.TooLong(field.NewPath("status", "message"), "", MaxDeliveryMessageLength))
	}
	path := func() *field.Path { return field.NewPath("status", "deliveries") }
	if len(e.Status.Deliveries) > MaxDeliveries {
		return append(allErrs, field.TooMany(path(), len(e.Status.Deliveries), MaxDeliveries))
	}
	var seen map[[2]string]bool
	for i, d := range e.Status.Deliveries {
		key := [2]string{d.Alert, d.Provider}
		duplicate := false
		if len(e.Status.Deliveries) > 1 {
			if seen == nil {
				seen = make(map[[2]string]bool, len(e.Status.Deliveries))
			}
			duplicate = seen[key]
			seen[key] = true
		}
		if !duplicate && deliveryValid(d) {
			continue // the path and the messages are made only for an error
		}
		allErrs = append(allErrs, deliveryErrors(d, path().Index(i), duplicate)...)
	}
	return allErrs
}

// deliveryErrors are the errors of d, at p.
func deliveryErrors(d notification.Delivery, p *field.Path, duplicate bool) field.ErrorList {
	var allErrs field.ErrorList
	// An Alert of another namespace is written namespace/name.
	alertName := d.Alert
	if ns, name, ok := strings.Cut(d.Alert, "/"); ok {
		for _, msg := range dns1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(p.Child("alert"), d.Alert, msg))
		}
		alertName = name
	}
	allErrs = append(allErrs, validateObjectName(alertName, p.Child("alert"))...)
	allErrs = append(allErrs, validateObjectName(d.Provider, p.Child("provider"))...)
	if duplicate {
		allErrs = append(allErrs, field.Duplicate(p, d.Alert+"/"+d.Provider))
	}
	if !contains(deliveryStates, d.State) {
		allErrs = append(allErrs, field.NotSupported(p.Child("state"), d.State, deliveryStates))
	}
	if d.Attempts < 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("attempts"), d.Attempts, "must not be negative"))
	}
	if len(d.Message) > MaxDeliveryMessageLength {
		allErrs = append(allErrs, field.TooLong(p.Child("message"), "", MaxDeliveryMessageLength))
	}
	return allErrs
}

// deliveryValid tells that deliveryErrors finds nothing wrong with d (not
// a duplicate).
func deliveryValid(d notification.Delivery) bool {
	alertName := d.Alert
	if ns, name, ok := strings.Cut(d.Alert, "/"); ok {
		if !isDNS1123Label(ns) {
			return false
		}
		alertName = name
	}
	return isDNS1123Subdomain(alertName) && isDNS1123Subdomain(d.Provider) && contains(deliveryStates, d.State) &&
		d.Attempts >= 0 && len(d.Message) <= MaxDeliveryMessageLength
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func validateEventBody(e *notification.Event) field.ErrorList {
	var allErrs field.ErrorList
	io := e.InvolvedObject
	// The paths are made only for an error: most Events have none.
	ioPath := func() *field.Path { return field.NewPath("involvedObject") }
	if io.Kind == "" {
		allErrs = append(allErrs, field.Required(ioPath().Child("kind"), "the kind of the Flux object is required"))
	} else if len(io.Kind) > 63 {
		allErrs = append(allErrs, field.TooLong(ioPath().Child("kind"), "", 63))
	}
	if !isDNS1123Subdomain(io.Name) {
		allErrs = append(allErrs, validateObjectName(io.Name, ioPath().Child("name"))...)
	}
	switch {
	case io.Namespace == "":
		allErrs = append(allErrs, field.Required(ioPath().Child("namespace"), "the namespace of the Flux object is required"))
	case io.Namespace != e.Namespace:
		allErrs = append(allErrs, field.Invalid(ioPath().Child("namespace"), io.Namespace,
			fmt.Sprintf("must be the namespace the Event is created in (%s)", e.Namespace)))
	}
	if io.APIVersion != "" {
		for _, msg := range qualifiedName(io.APIVersion) {
			allErrs = append(allErrs, field.Invalid(ioPath().Child("apiVersion"), io.APIVersion, msg))
		}
	}
	for name, v := range map[string]string{"uid": io.UID, "resourceVersion": io.ResourceVersion, "fieldPath": io.FieldPath} {
		if len(v) > MaxEventShortField {
			allErrs = append(allErrs, field.TooLong(ioPath().Child(name), "", MaxEventShortField))
		}
	}
	switch {
	case e.Severity == "":
		allErrs = append(allErrs, field.Required(field.NewPath("severity"), "info or error"))
	case !contains(severities2, e.Severity):
		allErrs = append(allErrs, field.NotSupported(field.NewPath("severity"), e.Severity, severities2))
	}
	if e.Timestamp.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("timestamp"), "the time of the event is required"))
	}
	switch {
	case e.Message == "":
		allErrs = append(allErrs, field.Required(field.NewPath("message"), "the message is required"))
	case len(e.Message) > MaxEventMessageLength:
		allErrs = append(allErrs, field.TooLong(field.NewPath("message"), "", MaxEventMessageLength))
	}
	if e.Reason == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("reason"), "the reason is required"))
	}
	if e.ReportingController == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("reportingController"), "the reporting controller is required"))
	}
	for name, v := range map[string]string{"reason": e.Reason, "reportingController": e.ReportingController, "reportingInstance": e.ReportingInstance} {
		if len(v) > MaxEventShortField {
			allErrs = append(allErrs, field.TooLong(field.NewPath(name), "", MaxEventShortField))
		}
	}
	mdPath := func() *field.Path { return field.NewPath("eventMetadata") }
	if len(e.EventMetadata) > MaxEventMetadataKeys {
		allErrs = append(allErrs, field.TooMany(mdPath(), len(e.EventMetadata), MaxEventMetadataKeys))
	} else {
		size := 0
		for k, v := range e.EventMetadata {
			size += len(k) + len(v)
			if k == "" {
				allErrs = append(allErrs, field.Invalid(mdPath(), k, "keys must not be empty"))
			}
		}
		if size > MaxEventMetadataBytes {
			allErrs = append(allErrs, field.TooLong(mdPath(), "", MaxEventMetadataBytes))
		}
	}
	return allErrs
}
