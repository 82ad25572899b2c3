package notifier

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// Matrix sends an m.room.message to the room in the channel on the
// homeserver at the address. The transaction ID is a hash of the event,
// so a retry of the same event is idempotent at the homeserver.
type Matrix struct {
	client   *Client
	settings *settings.Settings
}

// MatrixPayload is the message body for an event.
func MatrixPayload(e Event) map[string]string {
	emoji := "💫"
	if e.Severity == "error" {
		emoji = "🚨"
	}
	var b strings.Builder
	b.WriteString(emoji + " " + e.ObjectName() + "\n" + e.Message)
	for _, k := range sortedKeys(e.Metadata) {
		b.WriteString("\n- " + k + ": " + e.Metadata[k])
	}
	return map[string]string{"msgtype": "m.text", "body": b.String()}
}

// Post sends the event.
func (m *Matrix) Post(ctx context.Context, e Event) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return permanent("encoding the event: %v", err)
	}
	target := strings.TrimSuffix(m.settings.Address, "/") + "/_matrix/client/r0/rooms/" +
		url.PathEscape(m.settings.Channel) + "/send/m.room.message/" + sha1Hex(raw)
	_, err = postJSON(ctx, m.client, http.MethodPut, target, MatrixPayload(e), "Bearer "+m.settings.Token)
	return err
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}
