package notifier

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// Client posts to one Provider's receiver: through its proxy, trusting its
// CA, presenting its client certificate, and never past its timeout.
type Client struct {
	http *http.Client
	// settings are the Provider's, for secrets: what Redact hides is
	// listed on its first call, as most deliveries have no error to
	// redact (listing them was 1% of the server's CPU in a burst).
	settings *settings.Settings
	once     sync.Once
	secrets  []string
}

// NewClient builds the HTTP client of a Provider, on a transport of its
// own: for one-off use. Delivery shares transports through Transports.
func NewClient(s *settings.Settings, timeout time.Duration) (*Client, error) {
	return (*Transports)(nil).NewClient(s, timeout)
}

// minSecretLength is the shortest value Redact hides: shorter ones would
// garble messages and hide little.
const minSecretLength = 4

// secretsOf lists what must never appear in an error, in every form a
// receiver or proxy may echo back: the token and the password; the
// address and the proxy whole (they may embed credentials), and their
// query, each query value, the user and password of their userinfo; the
// values of the Secret's headers, and their credentials without the
// scheme ("Bearer <token>"); and the Basic credentials built from any of
// these. The longest come first, so that a secret is hidden whole even
// when it holds another.
func secretsOf(s *settings.Settings) []string {
	set := map[string]bool{}
	add := func(values ...string) {
		for _, v := range values {
			if len(v) < minSecretLength {
				continue
			}
			set[v] = true
			set[url.QueryEscape(v)] = true
		}
	}
	basic := func(user, pass string) {
		add(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))
	}
	add(s.Token, s.Password, s.Address, s.Proxy)
	if s.Token != "" {
		// Bitbucket's <user>:<app password> and Azure DevOps' empty user
		// send the token as Basic credentials.
		add(base64.StdEncoding.EncodeToString([]byte(s.Token)))
		basic("", s.Token)
		if _, pass, ok := strings.Cut(s.Token, ":"); ok {
			add(pass)
		}
	}
	if s.Password != "" {
		basic(s.Username, s.Password)
	}
	for _, v := range s.Headers {
		add(v)
		if fields := strings.Fields(v); len(fields) == 2 {
			add(fields[1])
		}
	}
	for _, raw := range []string{s.Address, s.Proxy} {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		add(u.RawQuery)
		for _, values := range u.Query() {
			add(values...)
		}
		if u.User != nil {
			pass, _ := u.User.Password()
			add(u.User.Username(), pass)
			basic(u.User.Username(), pass)
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// Redact replaces the secrets of the Provider in a message.
func (c *Client) Redact(msg string) string {
	c.once.Do(func() {
		if c.settings != nil {
			c.secrets = secretsOf(c.settings)
		}
	})
	for _, s := range c.secrets {
		msg = strings.ReplaceAll(msg, s, "*****")
	}
	return msg
}

// Response is what a receiver answered.
type Response struct {
	Status int
	Body   []byte
}

// maxResponseBody is how much of an answer Do keeps, and maxDrain how
// much more it reads to reuse the connection.
const (
	maxResponseBody = 64 * 1024
	maxDrain        = 256 * 1024
)

// Do sends a request and classifies its failure: network errors, 408, 429
// and 5xx are worth a retry; other 4xx are not.
func (c *Client) Do(ctx context.Context, method, target string, body []byte, header http.Header) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, permanent("building the request: %s", c.Redact(err.Error()))
	}
	req.Header = header
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL, which may hold a token
		}
		var nerr net.Error
		if errors.As(err, &nerr) && nerr.Timeout() {
			return nil, retryable("request to %s timed out", hostOf(target))
		}
		return nil, retryable("request to %s failed: %s", hostOf(target), c.Redact(err.Error()))
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// A connection goes back to the pool only once its response is read
	// to the end; past maxDrain, a new connection costs less.
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
	r := &Response{Status: resp.StatusCode, Body: data}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return r, nil
	}
	msg := fmt.Sprintf("%s answered %d %s", hostOf(target), resp.StatusCode, http.StatusText(resp.StatusCode))
	if snippet := strings.TrimSpace(string(data)); snippet != "" {
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		msg += ": " + c.Redact(snippet)
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return r, retryable("%s", msg)
	default:
		return r, permanent("%s", msg)
	}
}

func hostOf(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return "the receiver"
	}
	return u.Host
}
