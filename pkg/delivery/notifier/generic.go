package notifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// Generic posts the Flux event JSON to the address, with the
// Gotk-Component header and the Secret's headers; with hmac, also
// X-Signature: sha256=<hex HMAC-SHA256 of the body keyed with the token>.
type Generic struct {
	client   *Client
	settings *settings.Settings
	hmac     bool
}

// Post sends the event.
func (g *Generic) Post(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return permanent("encoding the event: %v", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("Gotk-Component", e.ReportingController)
	for k, v := range g.settings.Headers {
		header.Set(k, v)
	}
	if g.hmac {
		header.Set("X-Signature", "sha256="+Sign(body, []byte(g.settings.Token)))
	}
	_, err = g.client.Do(ctx, http.MethodPost, g.settings.Address, body, header)
	return err
}

// Sign is the hex HMAC-SHA256 of body keyed with key.
func Sign(body, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
