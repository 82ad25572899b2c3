package notifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// AzureEventHub sends the Flux event JSON to an Event Hub through its REST
// send API: with a SAS connection string in the address (signed here), or
// with the hub name as address, the namespace as channel and a JWT token.
type AzureEventHub struct {
	client   *Client
	settings *settings.Settings
	now      func() time.Time
}

// Post sends the event.
func (a *AzureEventHub) Post(ctx context.Context, e Event) error {
	hub, err := address.ParseEventHub(a.settings.Address)
	if err != nil {
		return permanent("invalid Event Hub address: %v", err)
	}
	var host, auth string
	if hub.ConnectionString != "" {
		u, err := url.Parse(hub.Endpoint)
		if err != nil {
			return permanent("invalid Event Hub endpoint")
		}
		host = u.Host
		key := connectionStringKey(hub.ConnectionString)
		auth = sharedAccessSignature("https://"+host+"/"+hub.Name, hub.KeyName, key, a.clock().Add(time.Hour))
	} else {
		if a.settings.Channel == "" {
			return permanent("type azureeventhub with an Event Hub name needs the namespace as channel")
		}
		if a.settings.Token == "" {
			return permanent("type azureeventhub with an Event Hub name needs a JWT in the token key")
		}
		host = a.settings.Channel
		if !strings.Contains(host, ".servicebus.") {
			host += ".servicebus.windows.net"
		}
		auth = "Bearer " + a.settings.Token
	}
	body, err := json.Marshal(e)
	if err != nil {
		return permanent("encoding the event: %v", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/atom+xml;type=entry;charset=utf-8")
	header.Set("Authorization", auth)
	target := "https://" + host + "/" + url.PathEscape(hub.Name) + "/messages?timeout=60&api-version=2014-01"
	_, err = a.client.Do(ctx, http.MethodPost, target, body, header)
	return err
}

func (a *AzureEventHub) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

func connectionStringKey(cs string) string {
	for _, part := range strings.Split(cs, ";") {
		if v, ok := strings.CutPrefix(part, "SharedAccessKey="); ok {
			return v
		}
	}
	return ""
}

// sharedAccessSignature is the Authorization value for resource, signed
// with the named key until expiry, as Azure Service Bus documents it.
func sharedAccessSignature(resource, keyName, key string, expiry time.Time) string {
	encoded := url.QueryEscape(resource)
	se := fmt.Sprint(expiry.Unix())
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(encoded + "\n" + se))
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return "SharedAccessSignature sr=" + encoded + "&sig=" + url.QueryEscape(sig) + "&se=" + se + "&skn=" + url.QueryEscape(keyName)
}
