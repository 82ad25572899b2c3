package notifier

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// PagerDuty sends to the Events API v2 with the routing key in the channel:
// an error triggers an incident keyed by the object's UID, anything else
// resolves it and records a change event. Progressing events are skipped.
type PagerDuty struct {
	client   *Client
	settings *settings.Settings
}

func (p *PagerDuty) base() (string, error) {
	u, err := url.Parse(p.settings.Address)
	if err != nil || u.Host == "" {
		return "", permanent("invalid PagerDuty address")
	}
	return u.Scheme + "://" + u.Host, nil
}

// Post sends the event.
func (p *PagerDuty) Post(ctx context.Context, e Event) error {
	if e.Reason == "Progressing" {
		return &SkipError{Reason: "PagerDuty takes no progress events"}
	}
	base, err := p.base()
	if err != nil {
		return err
	}
	summary := describe(e.Reason) + ": " + strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
	details := map[string]any{"message": e.Message, "metadata": e.Metadata}
	dedupKey := e.InvolvedObject.UID
	if dedupKey == "" {
		dedupKey = e.ObjectName()
	}
	if e.Severity == "error" {
		_, err := postJSON(ctx, p.client, http.MethodPost, base+"/v2/enqueue", map[string]any{
			"routing_key": p.settings.Channel, "event_action": "trigger", "dedup_key": dedupKey,
			"payload": map[string]any{
				"summary": summary, "source": "Flux " + e.ReportingController, "severity": "error",
				"timestamp": e.Timestamp.UTC().Format(time.RFC3339), "component": e.InvolvedObject.Name,
				"group": e.InvolvedObject.Kind, "custom_details": details,
			},
		}, "")
		return err
	}
	if _, err := postJSON(ctx, p.client, http.MethodPost, base+"/v2/enqueue", map[string]any{
		"routing_key": p.settings.Channel, "event_action": "resolve", "dedup_key": dedupKey,
	}, ""); err != nil {
		return err
	}
	_, err = postJSON(ctx, p.client, http.MethodPost, base+"/v2/change/enqueue", map[string]any{
		"routing_key": p.settings.Channel,
		"payload": map[string]any{
			"summary": summary, "source": "Flux " + e.ReportingController,
			"timestamp": e.Timestamp.UTC().Format(time.RFC3339), "custom_details": details,
		},
	}, "")
	return err
}

// Datadog posts an event to the Events API of the site in the address.
type Datadog struct {
	client   *Client
	settings *settings.Settings
}

// DatadogPayload is the event Datadog gets.
func DatadogPayload(e Event) any {
	io := e.InvolvedObject
	tags := []string{
		"flux_reporting_controller:" + e.ReportingController, "flux_reason:" + e.Reason,
		"kube_kind:" + io.Kind, "kube_name:" + io.Name, "kube_namespace:" + io.Namespace,
	}
	for _, k := range sortedKeys(e.Metadata) {
		tags = append(tags, k+":"+e.Metadata[k])
	}
	for i := range tags {
		tags[i] = strings.ToLower(tags[i])
	}
	alertType := "info"
	if e.Severity == "error" {
		alertType = "error"
	}
	return map[string]any{
		"alert_type": alertType, "date_happened": e.Timestamp.Unix(), "source_type_name": "fluxcd",
		"tags": tags, "text": e.Message,
		"title": "Events from the " + io.Kind + " " + io.Name + "/" + io.Namespace,
	}
}

// Post sends the event.
func (d *Datadog) Post(ctx context.Context, e Event) error {
	u, err := url.Parse(d.settings.Address)
	if err != nil || u.Host == "" {
		return permanent("invalid Datadog address")
	}
	body, err := jsonBody(DatadogPayload(e))
	if err != nil {
		return err
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/json")
	header.Set("DD-API-KEY", d.settings.Token)
	_, err = d.client.Do(ctx, http.MethodPost, u.Scheme+"://"+u.Host+"/api/v1/events", body, header)
	return err
}
