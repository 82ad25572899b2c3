package notifier

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// DefaultTelegramAPI is the Bot API base when the address is empty.
const DefaultTelegramAPI = "https://api.telegram.org"

// Telegram sends a MarkdownV2 message with the Bot API's sendMessage to the
// chat in the channel ("<chat id>" or "<chat id>:<thread id>"). The
// address, when set, is the API base.
type Telegram struct {
	client   *Client
	settings *settings.Settings
}

var telegramEscaper = strings.NewReplacer(
	`\`, `\\`, `.`, `\.`, `-`, `\-`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `(`, `\(`, `)`, `\)`, `~`, `\~`,
	`>`, `\>`, "`", "\\`", `#`, `\#`, `+`, `\+`, `=`, `\=`, `|`, `\|`, `{`, `\{`, `}`, `\}`, `!`, `\!`, `*`, `\*`,
)

// TelegramPayload is the sendMessage body for an event.
func TelegramPayload(e Event, channel string) map[string]string {
	emoji := "💫"
	if e.Severity == "error" {
		emoji = "🚨"
	}
	esc := telegramEscaper.Replace
	io := e.InvolvedObject
	var b strings.Builder
	b.WriteString("*" + esc(emoji+" "+strings.ToLower(io.Kind)+"/"+io.Name+"/"+io.Namespace) + "*\n")
	b.WriteString(esc(e.Message) + "\n")
	for _, k := range sortedKeys(e.Metadata) {
		b.WriteString(`\- *` + esc(k) + `*: ` + esc(e.Metadata[k]) + "\n")
	}
	chat, thread, _ := strings.Cut(channel, ":")
	payload := map[string]string{"chat_id": chat, "text": b.String(), "parse_mode": "MarkdownV2"}
	if thread != "" {
		payload["message_thread_id"] = thread
	}
	return payload
}

// Post sends the event.
func (t *Telegram) Post(ctx context.Context, e Event) error {
	base := strings.TrimSuffix(t.settings.Address, "/")
	if base == "" {
		base = DefaultTelegramAPI
	}
	resp, err := postJSON(ctx, t.client, http.MethodPost, base+"/bot"+t.settings.Token+"/sendMessage", TelegramPayload(e, t.settings.Channel), "")
	if err != nil {
		return err
	}
	var answer struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
	}
	if json.Unmarshal(resp.Body, &answer) == nil && !answer.OK {
		return retryable("Telegram answered: %s", t.client.Redact(answer.Description))
	}
	return nil
}
