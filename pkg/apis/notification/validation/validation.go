// Package validation holds the rules for Provider and Alert objects. The
// registry strategies and the admission plugin share these definitions.
package validation

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
)

// Limits on the size of specs.
const (
	// MaxStringLength bounds channel, username, address and proxy, as Flux does.
	MaxStringLength = 2048
	// MaxSummaryLength bounds an Alert's summary, as Flux does.
	MaxSummaryLength = 255
	// MaxEventSources bounds an Alert's eventSources.
	MaxEventSources = 256
	// MaxRegexps bounds each of an Alert's inclusionList and exclusionList.
	MaxRegexps = 256
	// MaxRegexpLength bounds one regular expression.
	MaxRegexpLength = 1024
	// MaxEventMetadata bounds the number of an Alert's eventMetadata entries.
	MaxEventMetadata = 256
	// MaxEventMetadataValueLength bounds one eventMetadata value.
	MaxEventMetadataValueLength = 4096
	// MaxConditions bounds the conditions of a status.
	MaxConditions = 16
)

// ValidateProvider checks a Provider on create.
func ValidateProvider(p *notification.Provider) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&p.ObjectMeta, true, nameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateProviderSpec(&p.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateProviderUpdate checks a Provider on update.
func ValidateProviderUpdate(p, old *notification.Provider) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateProviderSpec(&p.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateProviderStatusUpdate checks a write to a Provider's status.
func ValidateProviderStatusUpdate(p, old *notification.Provider) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateStatus(p.Status.ObservedGeneration, p.Status.Conditions, field.NewPath("status"))...)
	return allErrs
}

// ValidateProviderSpec checks the shape of a Provider's spec.
func ValidateProviderSpec(spec *notification.ProviderSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case spec.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), "the provider type is required"))
	case !slices.Contains(notification.ProviderTypes, spec.Type):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), spec.Type, notification.ProviderTypes))
	}
	if spec.Interval != nil && spec.Interval.Duration <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("interval"), spec.Interval.Duration.String(), "must be a positive duration, such as 10m"))
	}
	if spec.Timeout != nil && spec.Timeout.Duration <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("timeout"), spec.Timeout.Duration.String(), "must be a positive duration, such as 15s"))
	}
	allErrs = append(allErrs, validateText(spec.Channel, true, fldPath.Child("channel"))...)
	allErrs = append(allErrs, validateText(spec.Username, true, fldPath.Child("username"))...)
	allErrs = append(allErrs, validateText(spec.Address, false, fldPath.Child("address"))...)
	if errs := validateText(spec.Proxy, false, fldPath.Child("proxy")); len(errs) > 0 {
		allErrs = append(allErrs, errs...)
	} else if spec.Proxy != "" {
		allErrs = append(allErrs, ValidateHTTPURL(spec.Proxy, fldPath.Child("proxy"))...)
	}
	allErrs = append(allErrs, validateLocalRef(spec.SecretRef, fldPath.Child("secretRef"))...)
	allErrs = append(allErrs, validateLocalRef(spec.CertSecretRef, fldPath.Child("certSecretRef"))...)
	if len(allErrs) == 0 {
		allErrs = append(allErrs, validateTypeRules(spec, fldPath)...)
	}
	return allErrs
}

// ValidateHTTPURL checks that s is an absolute http or https URL with a
// host. The value is never echoed back: it may carry credentials.
func ValidateHTTPURL(s string, fldPath *field.Path) field.ErrorList {
	if _, err := address.ParseHTTPURL(s); err != nil {
		return field.ErrorList{field.Invalid(fldPath, redacted, fmt.Sprintf("must be an absolute http or https URL with a host: %v", err))}
	}
	return nil
}

// redacted stands for a value that may hold a secret in error messages.
const redacted = "<redacted>"

// validateText checks a text field: bounded, no control characters and,
// unless spaces are allowed (channel and user names), no white space.
func validateText(s string, spacesAllowed bool, fldPath *field.Path) field.ErrorList {
	if len(s) > MaxStringLength {
		return field.ErrorList{field.TooLong(fldPath, "", MaxStringLength)}
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return field.ErrorList{field.Invalid(fldPath, redacted, "must not contain control characters")}
		}
	}
	if !spacesAllowed && strings.ContainsFunc(s, unicode.IsSpace) {
		return field.ErrorList{field.Invalid(fldPath, redacted, "must not contain spaces")}
	}
	return nil
}

func validateLocalRef(ref *notification.LocalObjectReference, fldPath *field.Path) field.ErrorList {
	if ref == nil {
		return nil
	}
	return validateObjectName(ref.Name, fldPath.Child("name"))
}

func validateObjectName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "a name is required")}
	}
	var allErrs field.ErrorList
	for _, msg := range dns1123Subdomain(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

func validateStatus(observedGeneration int64, conds []metav1.Condition, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if observedGeneration < -1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("observedGeneration"), observedGeneration, "must be -1 or greater"))
	}
	if len(conds) > MaxConditions {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("conditions"), len(conds), MaxConditions))
	}
	allErrs = append(allErrs, metav1validation.ValidateConditions(conds, fldPath.Child("conditions"))...)
	return allErrs
}

// ValidateAlert checks an Alert on create.
func ValidateAlert(a *notification.Alert) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&a.ObjectMeta, true, nameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateAlertSpec(&a.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateAlertUpdate checks an Alert on update.
func ValidateAlertUpdate(a, old *notification.Alert) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&a.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateAlertSpec(&a.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateAlertStatusUpdate checks a write to an Alert's status.
func ValidateAlertStatusUpdate(a, old *notification.Alert) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&a.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateStatus(a.Status.ObservedGeneration, a.Status.Conditions, field.NewPath("status"))...)
	return allErrs
}

var severities = []string{notification.EventSeverityInfo, notification.EventSeverityError}

// ValidateAlertSpec checks the shape of an Alert's spec.
func ValidateAlertSpec(spec *notification.AlertSpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateObjectName(spec.ProviderRef.Name, fldPath.Child("providerRef", "name"))
	if !slices.Contains(severities, spec.EventSeverity) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("eventSeverity"), spec.EventSeverity, severities))
	}
	srcPath := fldPath.Child("eventSources")
	switch {
	case len(spec.EventSources) == 0:
		allErrs = append(allErrs, field.Required(srcPath, "at least one event source is required"))
	case len(spec.EventSources) > MaxEventSources:
		allErrs = append(allErrs, field.TooMany(srcPath, len(spec.EventSources), MaxEventSources))
	default:
		for i := range spec.EventSources {
			allErrs = append(allErrs, validateEventSource(&spec.EventSources[i], srcPath.Index(i))...)
		}
	}
	allErrs = append(allErrs, validateRegexps(spec.InclusionList, fldPath.Child("inclusionList"))...)
	allErrs = append(allErrs, validateRegexps(spec.ExclusionList, fldPath.Child("exclusionList"))...)
	if len(spec.Summary) > MaxSummaryLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("summary"), "", MaxSummaryLength))
	}
	mdPath := fldPath.Child("eventMetadata")
	if len(spec.EventMetadata) > MaxEventMetadata {
		allErrs = append(allErrs, field.TooMany(mdPath, len(spec.EventMetadata), MaxEventMetadata))
	} else {
		for k, v := range spec.EventMetadata {
			if k == "" {
				allErrs = append(allErrs, field.Invalid(mdPath, k, "keys must not be empty"))
			}
			if len(v) > MaxEventMetadataValueLength {
				allErrs = append(allErrs, field.TooLong(mdPath.Key(k), "", MaxEventMetadataValueLength))
			}
		}
	}
	return allErrs
}

func validateEventSource(src *notification.CrossNamespaceObjectReference, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case src.Kind == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), "the kind of the Flux objects is required"))
	case !slices.Contains(notification.EventSourceKinds, src.Kind):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), src.Kind, notification.EventSourceKinds))
	}
	if src.Name != "*" {
		allErrs = append(allErrs, validateObjectName(src.Name, fldPath.Child("name"))...)
	}
	switch {
	case src.Namespace == "*":
		allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), src.Namespace,
			"namespaces take no wildcard: name one namespace, or leave it empty for the Alert's namespace"))
	case src.Namespace != "":
		for _, msg := range dns1123Label(src.Namespace) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), src.Namespace, msg))
		}
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(src.MatchLabels, fldPath.Child("matchLabels"))...)
	return allErrs
}

func validateRegexps(exprs []string, fldPath *field.Path) field.ErrorList {
	if len(exprs) > MaxRegexps {
		return field.ErrorList{field.TooMany(fldPath, len(exprs), MaxRegexps)}
	}
	var allErrs field.ErrorList
	for i, expr := range exprs {
		if len(expr) > MaxRegexpLength {
			allErrs = append(allErrs, field.TooLong(fldPath.Index(i), "", MaxRegexpLength))
			continue
		}
		if _, err := regexp.Compile(expr); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), expr, fmt.Sprintf("must be a Go regular expression: %v", err)))
		}
	}
	return allErrs
}
