// Package address parses what a Provider's address means for its type: a
// Git repository for the commit status types and githubdispatch, a GCP
// project for googlepubsub, an Event Hub for azureeventhub, a URL for the
// rest. Admission and delivery share these parsers, so an address that is
// admitted is one that delivery understands.
package address

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// ParseHTTPURL parses an absolute http or https URL with a host. Its
// errors never repeat the URL, which may carry credentials.
func ParseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("it is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("it must be an absolute http or https URL")
	}
	if u.Hostname() == "" {
		return nil, errors.New("it must name a host")
	}
	return u, nil
}

// gcpProjectID is a GCP project ID: 6 to 30 lower-case letters, digits and
// hyphens, starting with a letter and not ending with a hyphen, optionally
// prefixed with a domain for domain-scoped projects (example.com:my-project).
var gcpProjectID = regexp.MustCompile(`^([a-z0-9.-]+\.[a-z]{2,}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// ValidateGCPProjectID checks a googlepubsub address.
func ValidateGCPProjectID(s string) error {
	if !gcpProjectID.MatchString(s) {
		return errors.New("it must be a GCP project ID: 6 to 30 lower-case letters, digits or hyphens, starting with a letter")
	}
	return nil
}

// eventHubName is an Event Hub name: letters, digits, periods, hyphens and
// underscores, starting and ending with a letter or digit, at most 256.
var eventHubName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$`)

// EventHub is what an azureeventhub address names.
type EventHub struct {
	// Name of the Event Hub.
	Name string
	// ConnectionString is set in SAS mode; then Endpoint and KeyName too.
	ConnectionString string
	Endpoint         string
	KeyName          string
}

// ParseEventHub parses an azureeventhub address: an Event Hub name (JWT
// mode, the namespace is the channel) or a SAS connection string
// `Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<name>;SharedAccessKey=<key>;EntityPath=<hub>`.
// Its errors never repeat the key.
func ParseEventHub(s string) (EventHub, error) {
	if !strings.Contains(s, "=") {
		if !eventHubName.MatchString(s) {
			return EventHub{}, errors.New("it must be an Event Hub name (letters, digits, '.', '-', '_') or a SAS connection string")
		}
		return EventHub{Name: s}, nil
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(s, ";"), ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return EventHub{}, errors.New("it is not a SAS connection string: each part must be Key=Value, separated by ';'")
		}
		parts[k] = v
	}
	for _, key := range []string{"Endpoint", "SharedAccessKeyName", "SharedAccessKey", "EntityPath"} {
		if parts[key] == "" {
			return EventHub{}, fmt.Errorf("the SAS connection string lacks %s", key)
		}
	}
	u, err := url.Parse(parts["Endpoint"])
	if err != nil || u.Scheme != "sb" || u.Hostname() == "" {
		return EventHub{}, errors.New("the SAS connection string's Endpoint must be sb://<namespace>.servicebus.windows.net/")
	}
	if !eventHubName.MatchString(parts["EntityPath"]) {
		return EventHub{}, errors.New("the SAS connection string's EntityPath is not an Event Hub name")
	}
	return EventHub{Name: parts["EntityPath"], ConnectionString: s, Endpoint: parts["Endpoint"], KeyName: parts["SharedAccessKeyName"]}, nil
}
