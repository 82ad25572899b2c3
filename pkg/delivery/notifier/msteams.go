package notifier

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// MSTeams posts to a Teams webhook: the legacy connector MessageCard for
// *.webhook.office.com addresses, an Adaptive Card for Workflows addresses.
// The address's query (the signature) is kept verbatim.
type MSTeams struct {
	client   *Client
	settings *settings.Settings
}

// MSTeamsPayload is the card Teams gets at address.
func MSTeamsPayload(e Event, address string) any {
	if isLegacyTeams(address) {
		color := "0076D7"
		if e.Severity == "error" {
			color = "FF0000"
		}
		facts := []map[string]string{}
		for _, k := range sortedKeys(e.Metadata) {
			facts = append(facts, map[string]string{"name": k, "value": e.Metadata[k]})
		}
		return map[string]any{
			"@type": "MessageCard", "@context": "http://schema.org/extensions",
			"themeColor": color, "summary": e.ObjectName(),
			"sections": []any{map[string]any{"activityTitle": e.Message, "activitySubtitle": e.ObjectName(), "facts": facts}},
		}
	}
	message := map[string]any{"type": "TextBlock", "text": e.Message, "wrap": true}
	if e.Severity == "error" {
		message["color"] = "attention"
	}
	items := []any{
		map[string]any{"type": "TextBlock", "text": e.ObjectName(), "size": "large", "weight": "bolder", "wrap": true},
		message,
	}
	if len(e.Metadata) > 0 {
		var facts []map[string]string
		if s, ok := e.Metadata["summary"]; ok {
			facts = append(facts, map[string]string{"title": "summary", "value": s})
		}
		for _, k := range sortedKeys(e.Metadata) {
			if k != "summary" {
				facts = append(facts, map[string]string{"title": k, "value": e.Metadata[k]})
			}
		}
		items = append(items, map[string]any{"type": "FactSet", "facts": facts})
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard", "version": "1.4",
				"body":    []any{map[string]any{"type": "Container", "items": items}},
				"msteams": map[string]string{"width": "Full"},
			},
		}},
	}
}

func isLegacyTeams(address string) bool {
	u, err := url.Parse(address)
	return err == nil && strings.HasSuffix(strings.ToLower(u.Hostname()), ".webhook.office.com")
}

// Post sends the event.
func (m *MSTeams) Post(ctx context.Context, e Event) error {
	_, err := postJSON(ctx, m.client, http.MethodPost, m.settings.Address, MSTeamsPayload(e, m.settings.Address), "")
	return err
}
