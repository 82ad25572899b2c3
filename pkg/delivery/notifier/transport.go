package notifier

import (
	"container/list"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// Transports shares HTTP transports, and with them their pools of open
// connections, among the deliveries to Providers that connect the same
// way: through the same proxy, trusting the same CAs and presenting the
// same client certificate. That is all a transport holds; tokens and
// passwords go in each request. It keeps the most recently used max
// transports and closes the idle connections of those it drops.
type Transports struct {
	mu  sync.Mutex
	max int
	// connsPerHost bounds each transport's connections to one host (0:
	// no bound).
	connsPerHost int
	byKey        map[transportKey]*list.Element
	lru          *list.List // of *sharedTransport, the most recently used first
}

// transportKey is a digest of what shapes a connection. It comes from the
// proxy URL and the client's private key: never log it.
type transportKey [sha256.Size]byte

type sharedTransport struct {
	key       transportKey
	transport *http.Transport
}

// NewTransports returns a cache of at most size transports, each with at
// most connsPerHost connections to a host (0: no bound). The dispatcher
// bounds them by its workers: a worker that finds no idle connection
// waits for one rather than dialing another, which under load the
// transport otherwise does while a connection is about to come free.
func NewTransports(size, connsPerHost int) *Transports {
	return &Transports{max: size, connsPerHost: connsPerHost, byKey: map[transportKey]*list.Element{}, lru: list.New()}
}

// NewClient builds the HTTP client of a Provider on a shared transport.
// On a nil *Transports, the client gets a transport of its own.
func (t *Transports) NewClient(s *settings.Settings, timeout time.Duration) (*Client, error) {
	transport, err := t.get(s)
	if err != nil {
		return nil, err
	}
	return &Client{
		http:     &http.Client{Transport: transport, Timeout: timeout},
		settings: s,
	}, nil
}

// CloseIdleConnections closes the idle connections of every transport.
func (t *Transports) CloseIdleConnections() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for e := t.lru.Front(); e != nil; e = e.Next() {
		e.Value.(*sharedTransport).transport.CloseIdleConnections()
	}
}

func (t *Transports) get(s *settings.Settings) (*http.Transport, error) {
	if t == nil {
		return newTransport(s, 0)
	}
	key, ok := keyOf(s)
	if !ok {
		return newTransport(s, t.connsPerHost)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.byKey[key]; ok {
		t.lru.MoveToFront(e)
		return e.Value.(*sharedTransport).transport, nil
	}
	transport, err := newTransport(s, t.connsPerHost)
	if err != nil {
		return nil, err
	}
	t.byKey[key] = t.lru.PushFront(&sharedTransport{key: key, transport: transport})
	for t.lru.Len() > max(t.max, 1) {
		oldest := t.lru.Remove(t.lru.Back()).(*sharedTransport)
		delete(t.byKey, oldest.key)
		// Requests in flight finish; their connections then idle out.
		oldest.transport.CloseIdleConnections()
	}
	return transport, nil
}

// keyOf digests what newTransport puts into a transport. Settings with a
// CA pool or a client certificate but no digest of their bytes (built by
// hand, not resolved) cannot be told apart: they are not shared.
func keyOf(s *settings.Settings) (transportKey, bool) {
	if (s.RootCAs != nil || s.ClientCertificate != nil) && s.TLSDigest == [sha256.Size]byte{} {
		return transportKey{}, false
	}
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s.Proxy))))
	h.Write([]byte(s.Proxy))
	h.Write(s.TLSDigest[:])
	var key transportKey
	h.Sum(key[:0])
	return key, true
}

// newTransport is the default transport with the Provider's proxy (or the
// environment's), CA and client certificate, and at most connsPerHost
// connections to a host.
func newTransport(s *settings.Settings, connsPerHost int) (*http.Transport, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// The delivery workers post to the same receiver at once: keep a
	// connection for each, not the default two.
	transport.MaxIdleConnsPerHost = 32
	transport.MaxConnsPerHost = connsPerHost
	transport.Proxy = http.ProxyFromEnvironment
	if s.Proxy != "" {
		proxy, err := url.Parse(s.Proxy)
		if err != nil {
			return nil, permanent("invalid proxy")
		}
		transport.Proxy = http.ProxyURL(proxy)
	}
	if s.RootCAs != nil || s.ClientCertificate != nil {
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}
		if s.ClientCertificate != nil {
			transport.TLSClientConfig.Certificates = []tls.Certificate{*s.ClientCertificate}
		}
	}
	return transport, nil
}
