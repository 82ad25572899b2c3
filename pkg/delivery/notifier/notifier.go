// Package notifier sends an event to one kind of receiver. Every type has
// one file here and the same small interface; a failure says whether a
// retry can help, and never carries a secret.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// ObjectReference is the involved object as Flux's event JSON carries it.
type ObjectReference struct {
	Kind            string `json:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	FieldPath       string `json:"fieldPath,omitempty"`
}

// Event is a Flux event as notifiers send it: Flux's wire format, with the
// metadata already merged and unprefixed.
type Event struct {
	InvolvedObject      ObjectReference   `json:"involvedObject"`
	Severity            string            `json:"severity"`
	Timestamp           metav1.Time       `json:"timestamp"`
	Message             string            `json:"message"`
	Reason              string            `json:"reason"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	ReportingController string            `json:"reportingController"`
	ReportingInstance   string            `json:"reportingInstance,omitempty"`
}

// ObjectName is how notifiers name the involved object: kind/name.namespace
// with the kind in lower case, as Flux does.
func (e Event) ObjectName() string {
	return strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name + "." + e.InvolvedObject.Namespace
}

// Notifier sends events to one Provider.
type Notifier interface {
	// Post sends one event. Its error is an *Error.
	Post(ctx context.Context, e Event) error
}

// Error is a failed delivery: whether to retry, and a message without secrets.
type Error struct {
	Retryable bool
	Message   string
}

func (e *Error) Error() string { return e.Message }

// Retryable tells whether a retry of the delivery that failed with err can
// help. Errors that are not *Error are retried.
func Retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return true
}

func permanent(format string, args ...any) *Error {
	return &Error{Retryable: false, Message: fmt.Sprintf(format, args...)}
}

func retryable(format string, args ...any) *Error {
	return &Error{Retryable: true, Message: fmt.Sprintf(format, args...)}
}

// New returns the notifier of a Provider's type, with its settings.
func New(s *settings.Settings, client *Client) (Notifier, error) {
	switch s.Type {
	case "generic":
		return &Generic{client: client, settings: s}, nil
	case "generic-hmac":
		return &Generic{client: client, settings: s, hmac: true}, nil
	case "slack":
		return &Slack{client: client, settings: s}, nil
	case "discord":
		return &Discord{client: client, settings: s}, nil
	case "rocket":
		return &Rocket{client: client, settings: s}, nil
	case "msteams":
		return &MSTeams{client: client, settings: s}, nil
	case "googlechat":
		return &GoogleChat{client: client, settings: s}, nil
	case "webex":
		return &Webex{client: client, settings: s}, nil
	case "telegram":
		return &Telegram{client: client, settings: s}, nil
	case "lark":
		return &Lark{client: client, settings: s}, nil
	case "matrix":
		return &Matrix{client: client, settings: s}, nil
	case "opsgenie":
		return &Opsgenie{client: client, settings: s}, nil
	case "alertmanager":
		return &Alertmanager{client: client, settings: s}, nil
	case "grafana":
		return &Grafana{client: client, settings: s}, nil
	case "githubdispatch":
		return &GitHubDispatch{client: client, settings: s}, nil
	case "googlepubsub":
		return &GooglePubSub{client: client, settings: s}, nil
	case "azureeventhub":
		return &AzureEventHub{client: client, settings: s}, nil
	case "sentry":
		return &Sentry{client: client, settings: s}, nil
	case "pagerduty":
		return &PagerDuty{client: client, settings: s}, nil
	case "datadog":
		return &Datadog{client: client, settings: s}, nil
	case "github", "gitlab", "gitea", "bitbucket", "bitbucketserver", "azuredevops":
		return newCommitStatus(s, client)
	}
	return nil, permanent("delivery to providers of type %s is not implemented yet", s.Type)
}
