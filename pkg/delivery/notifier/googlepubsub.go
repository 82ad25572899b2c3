package notifier

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"

	"golang.org/x/oauth2/google"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// pubsubScope is the OAuth scope for publishing.
const pubsubScope = "https://www.googleapis.com/auth/pubsub"

// GooglePubSub publishes the Flux event JSON to the topic in the channel,
// in the GCP project of the address, with the Secret's headers as message
// attributes, through Pub/Sub's REST API. Credentials are the service
// account JSON in the token, else Google's default credentials chain. With
// PUBSUB_EMULATOR_HOST set (Google's convention) it talks to the emulator.
type GooglePubSub struct {
	client   *Client
	settings *settings.Settings
}

// Post sends the event.
func (g *GooglePubSub) Post(ctx context.Context, e Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return permanent("encoding the event: %v", err)
	}
	message := map[string]any{"data": base64.StdEncoding.EncodeToString(data)}
	if len(g.settings.Headers) > 0 {
		message["attributes"] = g.settings.Headers
	}
	body, err := json.Marshal(map[string]any{"messages": []any{message}})
	if err != nil {
		return permanent("encoding the message: %v", err)
	}
	base, auth := "https://pubsub.googleapis.com", ""
	if emulator := os.Getenv("PUBSUB_EMULATOR_HOST"); emulator != "" {
		base = "http://" + emulator
	} else {
		if auth, err = g.bearer(ctx); err != nil {
			return err
		}
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	if auth != "" {
		header.Set("Authorization", auth)
	}
	target := base + "/v1/projects/" + url.PathEscape(g.settings.Address) + "/topics/" + url.PathEscape(g.settings.Channel) + ":publish"
	_, err = g.client.Do(ctx, http.MethodPost, target, body, header)
	return err
}

func (g *GooglePubSub) bearer(ctx context.Context) (string, error) {
	var creds *google.Credentials
	var err error
	if g.settings.Token != "" {
		creds, err = google.CredentialsFromJSON(ctx, []byte(g.settings.Token), pubsubScope)
		if err != nil {
			return "", permanent("the token key does not hold Google service account credentials")
		}
	} else if creds, err = google.FindDefaultCredentials(ctx, pubsubScope); err != nil {
		return "", retryable("no Google credentials: set the token key to service account JSON, or use workload identity")
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		return "", retryable("getting a Google access token failed")
	}
	return "Bearer " + tok.AccessToken, nil
}
