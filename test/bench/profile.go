package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
)

// profileSeconds is how long a CPU profile runs: long enough to show the
// hot path. A burst shorter than that waits for its profile to end, so
// that the next step does not show in it.
const profileSeconds = 8

// profile records a CPU profile of notification-apiserver, read from its
// /debug/pprof directly, in the background. The returned func waits until
// the profile is written.
func (b *bench) profile(label string) (wait func()) {
	done := make(chan struct{})
	wait = func() { <-done }
	if b.profileDir == "" {
		close(done)
		return wait
	}
	cfg := rest.CopyConfig(b.config)
	cfg.Host = b.serverURL
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "profile: %v\n", err)
		close(done)
		return wait
	}
	go func() {
		defer close(done)
		resp, err := client.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", b.serverURL, profileSeconds))
		if err != nil {
			fmt.Fprintf(os.Stderr, "profile: %v\n", err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fmt.Fprintf(os.Stderr, "profile: %s\n", resp.Status)
			return
		}
		path := filepath.Join(b.profileDir, "cpu-"+label+".pprof")
		if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
			return
		}
		f, err := os.Create(path)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
		fmt.Fprintf(os.Stderr, "   profile: %s\n", path)
	}()
	return wait
}

// batchItems reads the server's notification_event_batch_items histogram:
// the sum and count of the Events its etcd transactions wrote, by write
// (create, status).
func (b *bench) batchItems() map[string][2]float64 {
	out := map[string][2]float64{}
	cfg := rest.CopyConfig(b.config)
	cfg.Host = b.serverURL
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return out
	}
	resp, err := client.Get(b.serverURL + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(body), "\n") {
		for _, part := range []struct {
			suffix string
			index  int
		}{{"_sum", 0}, {"_count", 1}} {
			prefix := "notification_event_batch_items" + part.suffix + `{write="`
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			write, rest, ok := strings.Cut(line[len(prefix):], `"} `)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				continue
			}
			sc := out[write]
			sc[part.index] = v
			out[write] = sc
		}
	}
	return out
}
