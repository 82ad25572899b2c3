package notifier

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// connections counts the connections a test server accepts and closes.
type connections struct {
	mu             sync.Mutex
	opened, closed int
}

func (c *connections) track(srv *httptest.Server) {
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch state {
		case http.StateNew:
			c.opened++
		case http.StateClosed, http.StateHijacked:
			c.closed++
		}
	}
}

func (c *connections) counts() (opened, closed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened, c.closed
}

func TestDeliveriesToOneProviderReuseTheirConnections(t *testing.T) {
	tests := []struct {
		name   string
		tls    bool
		status int
		body   string
	}{
		{"over http", false, http.StatusOK, ""},
		{"over https with the Provider's CA", true, http.StatusOK, ""},
		{"when the receiver answers more than is kept", false, http.StatusOK, strings.Repeat("x", maxResponseBody+1000)},
		{"when the receiver refuses the event", false, http.StatusBadRequest, `{"error":"bad event"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var conns connections
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			conns.track(srv)
			s := &settings.Settings{Type: "generic", Address: srv.URL}
			if tc.tls {
				srv.StartTLS()
				s.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
				s.TLSDigest = sha256.Sum256(srv.Certificate().Raw)
			} else {
				srv.Start()
			}
			defer srv.Close()
			s.Address = srv.URL

			transports := NewTransports(8, 0)
			for range 100 {
				c, err := transports.NewClient(s, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				n, err := New(s, c)
				if err != nil {
					t.Fatal(err)
				}
				err = n.Post(context.Background(), sampleEvent())
				if (err == nil) != (tc.status == http.StatusOK) {
					t.Fatalf("post: %v", err)
				}
			}
			if opened, _ := conns.counts(); opened > 3 {
				t.Errorf("100 deliveries opened %d connections, want at most 3", opened)
			}
		})
	}
}

func TestProvidersShareATransportOnlyWhenTheyConnectTheSameWay(t *testing.T) {
	digest := func(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }
	base := settings.Settings{Type: "generic", Address: "https://a.example.com/", Token: "t1"}
	tests := []struct {
		name   string
		mutate func(*settings.Settings)
		shared bool
	}{
		{"another address and token", func(s *settings.Settings) { s.Address, s.Token = "https://b.example.com/", "t2" }, true},
		{"a proxy", func(s *settings.Settings) { s.Proxy = "http://proxy:3128" }, false},
		{"a CA", func(s *settings.Settings) { s.TLSDigest = digest("ca") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			transports := NewTransports(8, 0)
			s := base
			first, err := transports.get(&s)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(&s)
			second, err := transports.get(&s)
			if err != nil {
				t.Fatal(err)
			}
			if (first == second) != tc.shared {
				t.Errorf("shared %v, want %v", first == second, tc.shared)
			}
		})
	}

	t.Run("a different CA", func(t *testing.T) {
		transports := NewTransports(8, 0)
		a := base
		a.TLSDigest = digest("ca-a")
		b := base
		b.TLSDigest = digest("ca-b")
		ta, _ := transports.get(&a)
		tb, _ := transports.get(&b)
		again, _ := transports.get(&a)
		if ta == tb || ta != again {
			t.Errorf("CA a and b share %v; a again shares %v", ta == tb, ta == again)
		}
	})

	t.Run("a CA pool without its digest", func(t *testing.T) {
		transports := NewTransports(8, 0)
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		defer srv.Close()
		s := base
		s.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		first, _ := transports.get(&s)
		second, _ := transports.get(&s)
		if first == second {
			t.Error("a CA that cannot be told apart from others was shared")
		}
	})
}

func TestTransportsDroppedFromTheCacheCloseTheirIdleConnections(t *testing.T) {
	var conns connections
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	conns.track(srv)
	srv.Start()
	defer srv.Close()

	transports := NewTransports(2, 0)
	// Each CA digest keys a transport of its own; plain http ignores it.
	post := func(ca string) {
		t.Helper()
		s := &settings.Settings{Type: "generic", Address: srv.URL, TLSDigest: sha256.Sum256([]byte(ca))}
		c, err := transports.NewClient(s, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Do(context.Background(), http.MethodPost, srv.URL, nil, http.Header{}); err != nil {
			t.Fatal(err)
		}
	}
	post("first")
	post("second")
	if _, closed := conns.counts(); closed != 0 {
		t.Fatalf("%d connections closed while their transports are cached", closed)
	}
	post("third") // drops "first"
	deadline := time.Now().Add(5 * time.Second)
	for {
		opened, closed := conns.counts()
		if opened == 3 && closed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("opened %d, closed %d; want 3 and 1", opened, closed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(transports.byKey) != 2 || transports.lru.Len() != 2 {
		t.Errorf("%d transports kept, want 2", transports.lru.Len())
	}
}

func TestConnectionsToAHostAreBoundedPerTransport(t *testing.T) {
	var conns connections
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	conns.track(srv)
	srv.Start()
	defer srv.Close()

	transports := NewTransports(8, 2)
	s := &settings.Settings{Type: "generic", Address: srv.URL}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := transports.NewClient(s, 30*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := c.Do(context.Background(), http.MethodPost, srv.URL, nil, http.Header{}); err != nil {
				t.Error(err)
			}
		}()
	}
	// Two requests reach the receiver and hold their connections; the
	// other six wait for one of them rather than dialing.
	<-arrived
	<-arrived
	close(release)
	wg.Wait()
	if opened, _ := conns.counts(); opened != 2 {
		t.Errorf("8 concurrent posts opened %d connections, want 2", opened)
	}
}
