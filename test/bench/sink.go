package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sink is the receiving end of every delivery: a `generic` webhook that
// notes when each event arrives. Events carry "bench <run> <seq>" as their
// message.
type sink struct {
	URL         string
	connections atomic.Int64

	mu       sync.Mutex
	arrivals map[string]map[int]time.Time
	dups     map[string]int
	changed  *sync.Cond
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{URL: "http://" + l.Addr().String(), arrivals: map[string]map[int]time.Time{}, dups: map[string]int{}}
	s.changed = sync.NewCond(&s.mu)
	srv := &http.Server{
		Handler: s,
		ConnState: func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				s.connections.Add(1)
			}
		},
	}
	go func() { _ = srv.Serve(l) }()
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var event struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	run, seq, ok := parseMessage(event.Message)
	if !ok {
		http.Error(w, "not a bench event", http.StatusBadRequest)
		return
	}
	// Fan-out: one event to many Providers, told apart by their path.
	if n, found := strings.CutPrefix(r.URL.Path, "/fanout/"); found {
		if seq, err = strconv.Atoi(n); err != nil {
			http.Error(w, "bad fan-out path", http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	got := s.arrivals[run]
	if got == nil {
		got = map[int]time.Time{}
		s.arrivals[run] = got
	}
	if _, seen := got[seq]; seen {
		s.dups[run]++
	} else {
		got[seq] = now
	}
	s.changed.Broadcast()
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func message(run string, seq int) string { return fmt.Sprintf("bench %s %d", run, seq) }

func parseMessage(m string) (string, int, bool) {
	f := strings.Fields(m)
	if len(f) != 3 || f[0] != "bench" {
		return "", 0, false
	}
	seq, err := strconv.Atoi(f[2])
	return f[1], seq, err == nil
}

// wait returns the arrival times of a run once n events arrived, or what
// arrived by the deadline.
func (s *sink) wait(run string, n int, timeout time.Duration) (map[int]time.Time, int) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.changed.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.arrivals[run]) < n && time.Now().Before(deadline) {
		s.changed.Wait()
	}
	out := make(map[int]time.Time, len(s.arrivals[run]))
	for k, v := range s.arrivals[run] {
		out[k] = v
	}
	return out, s.dups[run]
}
