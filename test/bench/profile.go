package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
)

// profileSeconds is how long a burst's CPU profile runs: long enough to
// show the hot path, short enough to end within the burst.
const profileSeconds = 8

// profile records a CPU profile of notification-apiserver, read from its
// /debug/pprof directly, in the background.
func (b *bench) profile(label string) {
	if b.profileDir == "" {
		return
	}
	cfg := rest.CopyConfig(b.config)
	cfg.Host = b.serverURL
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "profile: %v\n", err)
		return
	}
	go func() {
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
}
