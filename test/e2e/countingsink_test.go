package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingSink receives generic Provider posts and counts them by the
// event's message; it notes which of the known servers sent each one.
type countingSink struct {
	srv   *httptest.Server
	delay time.Duration

	mu      sync.Mutex
	senders []*directServer
	got     map[string]int
	log     []sinkDelivery
}

type sinkDelivery struct {
	message string
	sender  *directServer // nil when not one of the known servers
	at      time.Time
}

type senderKey struct{}

func startCountingSink(t *testing.T, delay time.Duration) *countingSink {
	t.Helper()
	s := &countingSink{delay: delay, got: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// A connection's client is looked up once, when it is accepted: its
	// socket is then open in the sending process.
	s.srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, senderKey{}, s.senderOf(c))
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *countingSink) url() string { return s.srv.URL + "/hook" }

func (s *countingSink) knowSenders(servers []*directServer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.senders = servers
}

func (s *countingSink) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var event struct {
		Message string `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&event); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	sender, _ := r.Context().Value(senderKey{}).(*directServer)
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got[event.Message]++
	s.log = append(s.log, sinkDelivery{message: event.Message, sender: sender, at: at})
}

// senderOf finds the known server whose process holds the other end of c,
// through /proc/net/tcp and the servers' /proc/<pid>/fd.
func (s *countingSink) senderOf(c net.Conn) *directServer {
	s.mu.Lock()
	senders := s.senders
	s.mu.Unlock()
	remote, ok1 := c.RemoteAddr().(*net.TCPAddr)
	local, ok2 := c.LocalAddr().(*net.TCPAddr)
	if len(senders) == 0 || !ok1 || !ok2 {
		return nil
	}
	inode := socketInode(remote.Port, local.Port)
	if inode == "" {
		return nil
	}
	for _, srv := range senders {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", srv.pid))
		for _, fd := range fds {
			if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", srv.pid, fd.Name())); err == nil && link == "socket:["+inode+"]" {
				return srv
			}
		}
	}
	return nil
}

// socketInode is the inode of the TCP socket from localPort to remotePort.
func socketInode(localPort, remotePort int) string {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 {
				continue
			}
			if hexPort(f[1]) == localPort && hexPort(f[2]) == remotePort {
				return f[9]
			}
		}
	}
	return ""
}

func hexPort(addr string) int {
	_, port, _ := strings.Cut(addr, ":")
	n, _ := strconv.ParseUint(port, 16, 16)
	return int(n)
}

func (s *countingSink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

func (s *countingSink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *countingSink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.got))
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

func (s *countingSink) deliveries() []sinkDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkDelivery(nil), s.log...)
}

// waitForAll waits until every message has been delivered at least once.
func (s *countingSink) waitForAll(t *testing.T, messages []string, timeout time.Duration) {
	t.Helper()
	var missing []string
	deadline := time.Now().Add(timeout)
	for {
		missing = missing[:0]
		got := s.counts()
		for _, m := range messages {
			if got[m] == 0 {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted events never delivered within %s, such as %q", len(missing), len(messages), timeout,
				missing[:min(5, len(missing))])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
