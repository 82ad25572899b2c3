package notifier

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// Slack posts a message with one attachment: the involved object as
// author, the message as text, the metadata as fields, green for info and
// red for errors. The address is chat.postMessage (with a Bearer token and
// a channel) or a legacy incoming webhook.
type Slack struct {
	client   *Client
	settings *settings.Settings
}

type slackPayload struct {
	Channel     string            `json:"channel"`
	Username    string            `json:"username"`
	IconURL     string            `json:"icon_url"`
	IconEmoji   string            `json:"icon_emoji"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback   string       `json:"fallback"`
	Color      string       `json:"color"`
	AuthorName string       `json:"author_name"`
	Text       string       `json:"text"`
	MrkdwnIn   []string     `json:"mrkdwn_in"`
	Fields     []slackField `json:"fields,omitempty"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// SlackPayload is the body Slack gets for an event.
func SlackPayload(e Event, channel, username string) any {
	if username == "" {
		username = e.ReportingController
	}
	color := "good"
	if e.Severity == "error" {
		color = "danger"
	}
	firstLine, _, _ := strings.Cut(e.Message, "\n")
	a := slackAttachment{
		Fallback:   e.ObjectName() + ": " + firstLine,
		Color:      color,
		AuthorName: e.ObjectName(),
		Text:       e.Message,
		MrkdwnIn:   []string{"text"},
	}
	keys := make([]string, 0, len(e.Metadata))
	for k := range e.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.Fields = append(a.Fields, slackField{Title: k, Value: e.Metadata[k]})
	}
	return slackPayload{Channel: channel, Username: username, Attachments: []slackAttachment{a}}
}

// Post sends the event.
func (s *Slack) Post(ctx context.Context, e Event) error {
	body, err := json.Marshal(SlackPayload(e, s.settings.Channel, s.settings.Username))
	if err != nil {
		return permanent("encoding the Slack message: %v", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json; charset=utf-8")
	if s.settings.Token != "" {
		header.Set("Authorization", "Bearer "+s.settings.Token)
	}
	resp, err := s.client.Do(ctx, http.MethodPost, s.settings.Address, body, header)
	if err != nil {
		return err
	}
	if !isChatPostMessage(s.settings.Address) {
		return nil // incoming webhooks answer 2xx and a plain "ok"
	}
	// chat.postMessage answers 200 with {"ok": false, "error": ...} on failure.
	var answer struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(resp.Body, &answer); err != nil {
		return retryable("Slack answered with a body that is not JSON")
	}
	if !answer.OK {
		if answer.Error == "ratelimited" {
			return retryable("Slack responded with error: ratelimited")
		}
		return permanent("Slack responded with error: %s", s.client.Redact(answer.Error))
	}
	return nil
}

func isChatPostMessage(address string) bool {
	u, err := url.Parse(address)
	return err == nil && strings.HasSuffix(u.Path, "/api/chat.postMessage")
}
