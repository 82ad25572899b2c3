package notifier

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestRedactHidesEveryFormOfASecret: what a receiver or a proxy echoes
// back holds a Provider's secrets in the forms they were sent in.
func TestRedactHidesEveryFormOfASecret(t *testing.T) {
	for name, tc := range map[string]struct {
		settings settings.Settings
		secret   string // the form that must go
		echoed   string // what the receiver answered
	}{
		"the token": {settings.Settings{Token: "s3cr3t-token"}, "s3cr3t-token", "invalid token s3cr3t-token"},
		"the token as Basic credentials of an empty user (Azure DevOps)": {settings.Settings{Token: "s3cr3t-pat"},
			b64(":s3cr3t-pat"), "Authorization: Basic " + b64(":s3cr3t-pat")},
		"a <user>:<app password> token as Basic credentials (Bitbucket)": {settings.Settings{Token: "me:s3cr3t-app"},
			b64("me:s3cr3t-app"), "Authorization: Basic " + b64("me:s3cr3t-app")},
		"the app password of a <user>:<app password> token": {settings.Settings{Token: "me:s3cr3t-app"},
			"s3cr3t-app", "password s3cr3t-app is revoked"},
		"the password": {settings.Settings{Username: "me", Password: "s3cr3t-pw"}, "s3cr3t-pw", "password s3cr3t-pw is wrong"},
		"username and password as Basic credentials": {settings.Settings{Username: "me", Password: "s3cr3t-pw"},
			b64("me:s3cr3t-pw"), "Authorization: Basic " + b64("me:s3cr3t-pw")},
		"a header's value": {settings.Settings{Headers: map[string]string{"X-Api-Key": "s3cr3t-key"}},
			"s3cr3t-key", `unknown key "s3cr3t-key"`},
		"a header's credentials without their scheme": {settings.Settings{Headers: map[string]string{"Authorization": "Bearer s3cr3t-h"}},
			"s3cr3t-h", "token s3cr3t-h is revoked"},
		"the address whole": {settings.Settings{Address: "https://hooks.example.com/services/s3cr3t-path"},
			"https://hooks.example.com/services/s3cr3t-path", "no hook at https://hooks.example.com/services/s3cr3t-path"},
		"a value of the address's query": {settings.Settings{Address: "https://hooks.example.com/x?team=flux&token=s3cr3t-q"},
			"s3cr3t-q", "bad token s3cr3t-q"},
		"the address's query": {settings.Settings{Address: "https://hooks.example.com/x?team=flux&token=s3cr3t-q"},
			"team=flux&token=s3cr3t-q", "bad query team=flux&token=s3cr3t-q"},
		"a query value escaped as sent": {settings.Settings{Address: "https://hooks.example.com/x?sig=s3cr3t%2Fsig%3D"},
			"s3cr3t%2Fsig%3D", "bad sig=s3cr3t%2Fsig%3D"},
		"a query value unescaped": {settings.Settings{Address: "https://hooks.example.com/x?sig=s3cr3t%2Fsig%3D"},
			"s3cr3t/sig=", "bad signature s3cr3t/sig="},
		"the address's password": {settings.Settings{Address: "https://user:s3cr3t-p@hooks.example.com/"},
			"s3cr3t-p", `password "s3cr3t-p" is wrong`},
		"the address's Basic credentials": {settings.Settings{Address: "https://user:s3cr3t-p@hooks.example.com/"},
			b64("user:s3cr3t-p"), "Authorization: Basic " + b64("user:s3cr3t-p")},
		"a token as the address's user": {settings.Settings{Address: "https://s3cr3t-u@hooks.example.com/"},
			b64("s3cr3t-u:"), "Authorization: Basic " + b64("s3cr3t-u:")},
		"the proxy's password": {settings.Settings{Proxy: "http://proxy:s3cr3t-pp@proxy.example.com:3128"},
			"s3cr3t-pp", "wrong password s3cr3t-pp"},
		"the proxy's Basic credentials": {settings.Settings{Proxy: "http://proxy:s3cr3t-pp@proxy.example.com:3128"},
			b64("proxy:s3cr3t-pp"), "Proxy-Authorization: Basic " + b64("proxy:s3cr3t-pp")},
	} {
		t.Run(name, func(t *testing.T) {
			c := &Client{settings: &tc.settings}
			got := c.Redact(tc.echoed)
			if strings.Contains(got, tc.secret) || !strings.Contains(got, "*****") {
				t.Errorf("Redact(%q) = %q, still holding %q", tc.echoed, got, tc.secret)
			}
		})
	}
}

func TestRedactLeavesMessagesWithoutSecretsAlone(t *testing.T) {
	c := &Client{settings: &settings.Settings{Address: "https://hooks.example.com/x?a=1", Token: "abc"}}
	msg := "hooks.example.com answered 401 Unauthorized: who are you?"
	if got := c.Redact(msg); got != msg {
		t.Errorf("Redact(%q) = %q", msg, got)
	}
}

// TestAnEchoingReceiverGetsNoSecretIntoTheError: the address's userinfo and
// query and the Secret's headers go out; the receiver answers 401 with them.
func TestAnEchoingReceiverGetsNoSecretIntoTheError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "%s|%s|%s|%s", r.Header.Get("Authorization"), pass, r.Header.Get("X-Api-Key"), r.URL.Query().Get("token"))
	}))
	defer srv.Close()
	s := &settings.Settings{
		Type:    "generic",
		Address: "http://user:s3cr3t-pass@" + strings.TrimPrefix(srv.URL, "http://") + "/hook?team=flux&token=s3cr3t-query",
		Headers: map[string]string{"X-Api-Key": "s3cr3t-key"},
	}
	err := post(t, s)
	if err == nil || Retryable(err) {
		t.Fatalf("err %v, want a permanent failure", err)
	}
	if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, b64("user:s3cr3t-pass")) || strings.Count(msg, "*****") != 4 {
		t.Errorf("error %q shows a secret", msg)
	}
}
