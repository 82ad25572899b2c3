package notifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// eventHubFake checks a send as Azure documents it: the path, the content
// type, and a SAS signature it recomputes with the key (or a Bearer JWT).
func eventHubFake(t *testing.T, key, jwt string, got *[]byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/flux-hub/messages" || r.URL.Query().Get("api-version") != "2014-01" ||
			r.Header.Get("Content-Type") != "application/atom+xml;type=entry;charset=utf-8" {
			t.Errorf("send: %s %s content type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		auth := r.Header.Get("Authorization")
		if jwt != "" {
			if auth != "Bearer "+jwt {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		} else if !validSAS(auth, "https://"+r.Host+"/flux-hub", "send", key) {
			t.Errorf("SAS %q does not verify", auth)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		*got = body
		w.WriteHeader(http.StatusCreated)
	}
}

func validSAS(auth, resource, keyName, key string) bool {
	v, ok := strings.CutPrefix(auth, "SharedAccessSignature ")
	if !ok {
		return false
	}
	q, err := url.ParseQuery(v)
	if err != nil || q.Get("skn") != keyName || q.Get("sr") != resource {
		return false
	}
	se, err := strconv.ParseInt(q.Get("se"), 10, 64)
	if err != nil || time.Unix(se, 0).Before(time.Now()) {
		return false
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(url.QueryEscape(resource) + "\n" + q.Get("se")))
	return hmac.Equal([]byte(q.Get("sig")), []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))))
}

func TestAzureEventHubWithASASConnectionString(t *testing.T) {
	var got []byte
	srv := httptest.NewTLSServer(eventHubFake(t, "c2VjcmV0LWtleQ==", "", &got))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	s := &settings.Settings{Type: "azureeventhub",
		Address: "Endpoint=sb://" + host + "/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0LWtleQ==;EntityPath=flux-hub",
		RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	if err := post(t, s); err != nil {
		t.Fatal(err)
	}
	var e Event
	if err := json.Unmarshal(got, &e); err != nil || e.Message != sampleEvent().Message {
		t.Errorf("body %s: %v", got, err)
	}
}

func TestAzureEventHubWithAJWT(t *testing.T) {
	var got []byte
	srv := httptest.NewTLSServer(eventHubFake(t, "", "eyJ.jwt", &got))
	defer srv.Close()
	// The namespace names a host on servicebus.windows.net: this client
	// dials the fake on loopback whatever the host (no DNS involved).
	var dialed []string
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test fake on loopback
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, addr)
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
	s := &settings.Settings{Type: "azureeventhub", Address: "flux-hub", Channel: "my-namespace", Token: "eyJ.jwt"}
	n := &AzureEventHub{client: &Client{http: &http.Client{Transport: transport}}, settings: s}
	if err := n.Post(context.Background(), sampleEvent()); err != nil {
		t.Fatal(err)
	}
	if len(dialed) != 1 || dialed[0] != "my-namespace.servicebus.windows.net:443" || len(got) == 0 {
		t.Errorf("dialed %v, body %d bytes", dialed, len(got))
	}
}

func TestAzureEventHubNeedsAChannelAndATokenWithAHubName(t *testing.T) {
	for _, s := range []*settings.Settings{
		{Type: "azureeventhub", Address: "hub", Token: "t"},
		{Type: "azureeventhub", Address: "hub", Channel: "ns"},
	} {
		n := &AzureEventHub{client: &Client{http: http.DefaultClient}, settings: s}
		if err := n.Post(context.Background(), sampleEvent()); err == nil || Retryable(err) {
			t.Errorf("%+v: err %v, want a permanent error", s, err)
		}
	}
}
