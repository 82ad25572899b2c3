package validation

import (
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Every Event names itself, its object, its object's API version and,
// once delivered, its Alerts and Providers, and apimachinery checks each
// of those names with a regular expression: 2.5% of the server's CPU
// under a burst of events. The checks below accept a valid name by
// looking at its bytes and leave anything else to apimachinery, whose
// messages the errors keep; a fuzz test holds them to the same answers.

// dns1123Subdomain is utilvalidation.IsDNS1123Subdomain.
func dns1123Subdomain(s string) []string {
	if isDNS1123Subdomain(s) {
		return nil
	}
	return utilvalidation.IsDNS1123Subdomain(s)
}

// dns1123Label is utilvalidation.IsDNS1123Label.
func dns1123Label(s string) []string {
	if isDNS1123Label(s) {
		return nil
	}
	return utilvalidation.IsDNS1123Label(s)
}

// qualifiedName is utilvalidation.IsQualifiedName.
func qualifiedName(s string) []string {
	if isQualifiedName(s) {
		return nil
	}
	return utilvalidation.IsQualifiedName(s)
}

// nameIsDNSSubdomain is apimachineryvalidation.NameIsDNSSubdomain, for
// ValidateObjectMeta.
func nameIsDNSSubdomain(name string, prefix bool) []string {
	if !prefix && isDNS1123Subdomain(name) {
		return nil
	}
	return apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
}

// isDNS1123Label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes.
func isDNS1123Label(s string) bool {
	return len(s) <= utilvalidation.DNS1123LabelMaxLength && labelBytes(s)
}

// isDNS1123Subdomain: labels (of any length) joined by dots, at most 253
// bytes.
func isDNS1123Subdomain(s string) bool {
	if len(s) > utilvalidation.DNS1123SubdomainMaxLength {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !labelBytes(label) {
			return false
		}
	}
	return true
}

// labelBytes: [a-z0-9]([-a-z0-9]*[a-z0-9])?
func labelBytes(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// isQualifiedName: an optional DNS-1123 subdomain and a slash, then a
// name of at most 63 bytes: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9].
func isQualifiedName(s string) bool {
	name := s
	if prefix, rest, found := strings.Cut(s, "/"); found {
		if prefix == "" || !isDNS1123Subdomain(prefix) {
			return false
		}
		name = rest
	}
	if name == "" || len(name) > 63 || !alphanumeric(name[0]) || !alphanumeric(name[len(name)-1]) {
		return false
	}
	for i := 1; i < len(name)-1; i++ {
		if c := name[i]; !alphanumeric(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func alphanumeric(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
