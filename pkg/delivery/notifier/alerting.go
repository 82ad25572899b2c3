package notifier

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// DefaultOpsgenieAPI is the alerts endpoint when the address is empty.
const DefaultOpsgenieAPI = "https://api.opsgenie.com/v2/alerts"

// Opsgenie creates an alert: the object as message, the event message as
// description, the metadata and severity as details.
type Opsgenie struct {
	client   *Client
	settings *settings.Settings
}

// OpsgeniePayload is the alert for an event.
func OpsgeniePayload(e Event) any {
	details := map[string]string{"severity": e.Severity}
	for k, v := range e.Metadata {
		details[k] = v
	}
	return map[string]any{
		"message":     e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		"description": e.Message,
		"details":     details,
	}
}

// Post sends the event.
func (o *Opsgenie) Post(ctx context.Context, e Event) error {
	target := o.settings.Address
	if target == "" {
		target = DefaultOpsgenieAPI
	}
	_, err := postJSON(ctx, o.client, http.MethodPost, target, OpsgeniePayload(e), "GenieKey "+o.settings.Token)
	return err
}

// Alertmanager posts one firing alert to /api/v2/alerts: the labels of the
// Provider reference's table plus the metadata (but summary), the message
// and summary as annotations. Credentials in the address become Basic auth.
type Alertmanager struct {
	client   *Client
	settings *settings.Settings
}

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// labelName makes a metadata key a valid Prometheus label name.
func labelName(k string) string {
	k = invalidLabelChars.ReplaceAllString(k, "_")
	if k != "" && k[0] >= '0' && k[0] <= '9' {
		k = "_" + k
	}
	return k
}

// AlertmanagerPayload is the alert list for an event.
func AlertmanagerPayload(e Event) any {
	labels := map[string]string{}
	for k, v := range e.Metadata {
		if k != "summary" {
			labels[labelName(k)] = v
		}
	}
	io := e.InvolvedObject
	labels["alertname"] = "Flux" + io.Kind + e.Reason
	labels["severity"] = e.Severity
	labels["timestamp"] = e.Timestamp.UTC().Format(time.RFC3339)
	labels["reason"] = e.Reason
	labels["kind"] = io.Kind
	labels["name"] = io.Name
	labels["namespace"] = io.Namespace
	labels["reportingcontroller"] = e.ReportingController
	annotations := map[string]string{"message": e.Message}
	if s, ok := e.Metadata["summary"]; ok {
		annotations["summary"] = s
	}
	return []any{map[string]any{
		"status":      "firing",
		"labels":      labels,
		"annotations": annotations,
		"startsAt":    e.Timestamp.UTC().Format(time.RFC3339),
	}}
}

// Post sends the event.
func (a *Alertmanager) Post(ctx context.Context, e Event) error {
	target, user, pass := splitCredentials(a.settings.Address)
	if a.settings.Username != "" && a.settings.Password != "" {
		user, pass = a.settings.Username, a.settings.Password
	}
	auth := ""
	switch {
	case user != "":
		auth = basicAuth(user, pass)
	case a.settings.Token != "":
		auth = "Bearer " + a.settings.Token
	}
	_, err := postJSON(ctx, a.client, http.MethodPost, target, AlertmanagerPayload(e), auth)
	return err
}

// Grafana adds an annotation tagged flux: the object as text, the
// reporting controller, the metadata and the object as tags.
type Grafana struct {
	client   *Client
	settings *settings.Settings
}

// GrafanaPayload is the annotation for an event.
func GrafanaPayload(e Event) any {
	tags := []string{"flux", e.ReportingController}
	for _, k := range sortedKeys(e.Metadata) {
		tags = append(tags, strings.ReplaceAll(k, ":", "|")+": "+strings.ReplaceAll(e.Metadata[k], ":", "|"))
	}
	io := e.InvolvedObject
	tags = append(tags, "kind: "+io.Kind, "name: "+io.Name, "namespace: "+io.Namespace)
	return map[string]any{
		"time": e.Timestamp.UnixMilli(),
		"text": e.ObjectName() + ": " + e.Message,
		"tags": tags,
	}
}

// Post sends the event. A token wins over Basic credentials.
func (g *Grafana) Post(ctx context.Context, e Event) error {
	auth := ""
	switch {
	case g.settings.Token != "":
		auth = "Bearer " + g.settings.Token
	case g.settings.Username != "" && g.settings.Password != "":
		auth = basicAuth(g.settings.Username, g.settings.Password)
	}
	_, err := postJSON(ctx, g.client, http.MethodPost, g.settings.Address, GrafanaPayload(e), auth)
	return err
}

// splitCredentials removes user:password from a URL.
func splitCredentials(address string) (string, string, string) {
	u, err := url.Parse(address)
	if err != nil || u.User == nil {
		return address, "", ""
	}
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	return u.String(), user, pass
}

func basicAuth(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}
