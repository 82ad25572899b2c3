package notifier

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// sortedKeys returns the metadata keys in order, so that messages are stable.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// postJSON posts a JSON body with the given authorization header, if any.
func postJSON(ctx context.Context, c *Client, method, target string, payload any, auth string) (*Response, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, permanent("encoding the message: %v", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json; charset=utf-8")
	if auth != "" {
		header.Set("Authorization", auth)
	}
	return c.Do(ctx, method, target, body, header)
}

// Discord posts the Slack-format message to the webhook's Slack-compatible
// endpoint (the address with /slack appended once).
type Discord struct {
	client   *Client
	settings *settings.Settings
}

// Post sends the event.
func (d *Discord) Post(ctx context.Context, e Event) error {
	target := d.settings.Address
	if u, qs, ok := strings.Cut(target, "?"); ok {
		target = slackSuffix(u) + "?" + qs
	} else {
		target = slackSuffix(target)
	}
	payload := SlackPayload(e, "", d.settings.Username).(slackPayload)
	payload.Attachments[0].Fallback = ""
	_, err := postJSON(ctx, d.client, http.MethodPost, target, payload, "")
	return err
}

func slackSuffix(u string) string {
	if strings.HasSuffix(strings.TrimSuffix(u, "/"), "/slack") {
		return u
	}
	return strings.TrimSuffix(u, "/") + "/slack"
}

// Rocket posts a Slack-compatible message to a Rocket.Chat incoming webhook.
type Rocket struct {
	client   *Client
	settings *settings.Settings
}

// Post sends the event.
func (r *Rocket) Post(ctx context.Context, e Event) error {
	payload := SlackPayload(e, r.settings.Channel, r.settings.Username).(slackPayload)
	if r.settings.Username == "" {
		payload.Username = "" // Rocket has no default user name
	}
	payload.Attachments[0].Fallback = ""
	payload.Attachments[0].Color = "#0076D7"
	if e.Severity == "error" {
		payload.Attachments[0].Color = "#FF0000"
	}
	_, err := postJSON(ctx, r.client, http.MethodPost, r.settings.Address, payload, "")
	return err
}

// Webex posts a markdown message to a room.
type Webex struct {
	client   *Client
	settings *settings.Settings
}

// WebexPayload is the message Webex gets.
func WebexPayload(e Event, room string) map[string]string {
	emoji := "✅"
	if e.Severity == "error" {
		emoji = "💣"
	}
	var b strings.Builder
	b.WriteString(emoji + " **" + e.ObjectName() + "**\n" + e.Message)
	for _, k := range sortedKeys(e.Metadata) {
		b.WriteString("\n>**" + k + "**: " + e.Metadata[k])
	}
	return map[string]string{"roomId": room, "markdown": b.String()}
}

// Post sends the event.
func (w *Webex) Post(ctx context.Context, e Event) error {
	_, err := postJSON(ctx, w.client, http.MethodPost, w.settings.Address, WebexPayload(e, w.settings.Channel), "Bearer "+w.settings.Token)
	return err
}

// Lark posts an interactive card to a bot webhook. Lark answers 200 with a
// non-zero code on failure.
type Lark struct {
	client   *Client
	settings *settings.Settings
}

// LarkPayload is the card Lark gets.
func LarkPayload(e Event) any {
	emoji, template := "💫", "turquoise"
	if e.Severity == "error" {
		emoji, template = "🚨", "red"
	}
	var b strings.Builder
	b.WriteString("**" + e.Message + "**\n\n")
	for _, k := range sortedKeys(e.Metadata) {
		b.WriteString(k + ": " + e.Metadata[k] + "\n")
	}
	return map[string]any{
		"msg_type": "interactive",
		"card": map[string]any{
			"config": map[string]any{"wide_screen_mode": true},
			"header": map[string]any{
				"title":    map[string]string{"tag": "plain_text", "content": emoji + " " + e.ObjectName()},
				"template": template,
			},
			"elements": []any{map[string]any{"tag": "div", "text": map[string]string{"tag": "lark_md", "content": b.String()}}},
		},
	}
}

// Post sends the event.
func (l *Lark) Post(ctx context.Context, e Event) error {
	resp, err := postJSON(ctx, l.client, http.MethodPost, l.settings.Address, LarkPayload(e), "")
	if err != nil {
		return err
	}
	var answer struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	}
	if json.Unmarshal(resp.Body, &answer) == nil && answer.Code != 0 {
		return retryable("Lark answered code %d: %s", answer.Code, l.client.Redact(answer.Msg))
	}
	return nil
}

// GoogleChat posts a Cards v1 message to a space's webhook; the address's
// query (key and token) is kept verbatim.
type GoogleChat struct {
	client   *Client
	settings *settings.Settings
}

// GoogleChatPayload is the card Google Chat gets.
func GoogleChatPayload(e Event) any {
	text := e.Message
	if e.Severity == "error" {
		text = `<font color="#ff0000">` + text + `</font>`
	}
	sections := []any{map[string]any{"header": "", "widgets": []any{map[string]any{"textParagraph": map[string]string{"text": text}}}}}
	if len(e.Metadata) > 0 {
		var widgets []any
		for _, k := range sortedKeys(e.Metadata) {
			widgets = append(widgets, map[string]any{"keyValue": map[string]any{"topLabel": k, "content": e.Metadata[k], "contentMultiline": false}})
		}
		sections = append(sections, map[string]any{"header": "", "widgets": widgets})
	}
	return map[string]any{"cards": []any{map[string]any{
		"header":   map[string]string{"title": e.ObjectName(), "subtitle": e.ReportingController},
		"sections": sections,
	}}}
}

// Post sends the event.
func (g *GoogleChat) Post(ctx context.Context, e Event) error {
	_, err := postJSON(ctx, g.client, http.MethodPost, g.settings.Address, GoogleChatPayload(e), "")
	return err
}

func jsonBody(payload any) ([]byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, permanent("encoding the message: %v", err)
	}
	return body, nil
}
