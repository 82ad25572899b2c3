package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

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
