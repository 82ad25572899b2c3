package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/test/promtext"
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

// serverMetrics is the text of the server's /metrics ("" when unread).
func (b *bench) serverMetrics() string {
	cfg := rest.CopyConfig(b.config)
	cfg.Host = b.serverURL
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return ""
	}
	resp, err := client.Get(b.serverURL + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return ""
	}
	return string(body)
}

// writeDurations reads the server's histogram of the etcd transactions that
// create Events (nil when unread).
func (b *bench) writeDurations() []promtext.Bucket {
	buckets, _ := promtext.Histogram(b.serverMetrics(), "notification_event_write_duration_seconds", `write="create"`)
	return buckets
}

// batchRequestDurations reads the server's histogram of the receiver's
// EventBatch requests, from arrival to answer (nil when unread).
func (b *bench) batchRequestDurations() []promtext.Bucket {
	buckets, _ := promtext.Histogram(b.serverMetrics(), "apiserver_request_duration_seconds", `resource="eventbatches"`)
	return buckets
}

// batchItems reads the server's notification_event_batch_items histogram:
// the sum and count of the Events its etcd transactions wrote, by write
// (create, status).
func (b *bench) batchItems() map[string][2]float64 {
	out := map[string][2]float64{}
	body := b.serverMetrics()
	for _, line := range strings.Split(body, "\n") {
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

// reviewCounts are the server's delegated authentication and authorization
// requests to the kube-apiserver (TokenReviews, SubjectAccessReviews),
// those not answered 201, and the seconds they took.
type reviewCounts struct{ authn, authnFailed, authz, authzFailed, seconds float64 }

// reviews reads the server's counts of reviews (zero when unread).
func (b *bench) reviews() reviewCounts {
	text := b.serverMetrics()
	sum := func(name string, match ...string) float64 {
		v, _ := promtext.Sum(text, name, match...)
		return v
	}
	c := reviewCounts{authn: sum("apiserver_delegated_authn_request_total"), authz: sum("apiserver_delegated_authz_request_total")}
	c.authnFailed = c.authn - sum("apiserver_delegated_authn_request_total", `code="201"`)
	c.authzFailed = c.authz - sum("apiserver_delegated_authz_request_total", `code="201"`)
	c.seconds = sum("apiserver_delegated_authn_request_duration_seconds_sum") + sum("apiserver_delegated_authz_request_duration_seconds_sum")
	return c
}

// since is what c counted after before.
func (c reviewCounts) since(before reviewCounts) reviewCounts {
	return reviewCounts{c.authn - before.authn, c.authnFailed - before.authnFailed, c.authz - before.authz, c.authzFailed - before.authzFailed,
		c.seconds - before.seconds}
}

// embeddedEtcdURL is the client URL of the server's embedded etcd, from
// the server's log ("Started embedded etcd"): it listens on a new free
// port at each start. "" when the server does not embed etcd.
func (b *bench) embeddedEtcdURL() string {
	data, err := os.ReadFile(filepath.Join(b.localDir, "logs", "notification-apiserver.log"))
	if err != nil {
		return ""
	}
	return lastEmbeddedEtcdURL(string(data))
}

var embeddedEtcdLine = regexp.MustCompile(`"Started embedded etcd".*clientURL="(http://[^"]+)"`)

// lastEmbeddedEtcdURL is the clientURL of the last "Started embedded etcd"
// line of a klog log.
func lastEmbeddedEtcdURL(log string) string {
	all := embeddedEtcdLine.FindAllStringSubmatch(log, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1][1]
}

// etcdWaits are the embedded etcd's own histograms of what a transaction
// may wait for, on its /metrics: the fdatasync of the raft log, the
// backend's commit (bbolt, every 100 ms and at each snapshot, under the
// lock that applying a transaction takes) and the save of a snapshot to
// disk (every --snapshot-count entries, in the apply loop).
var etcdWaits = []struct{ name, metric string }{
	{"etcd WAL fsyncs", "etcd_disk_wal_fsync_duration_seconds"},
	{"etcd backend commits", "etcd_disk_backend_commit_duration_seconds"},
	{"etcd snapshots saved", "etcd_debugging_snap_save_total_duration_seconds"},
}

// etcdMetrics is the embedded etcd's /metrics ("" when it cannot be read).
func (b *bench) etcdMetrics() string {
	url := b.embeddedEtcdURL()
	if url == "" {
		return ""
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(body)
}

// etcdWaitHistograms reads etcdWaits from the embedded etcd's metrics
// (nil when there are none).
func etcdWaitHistograms(metrics string) map[string][]promtext.Bucket {
	if metrics == "" {
		return nil
	}
	out := map[string][]promtext.Bucket{}
	for _, w := range etcdWaits {
		if buckets, err := promtext.Histogram(metrics, w.metric, ""); err == nil {
			out[w.name] = buckets
		}
	}
	return out
}

// etcdCompactions are how many compactions the embedded etcd has run and
// how many old revisions they removed, from its metrics. A compaction
// removes them in batches (1,000 by default), each committed to disk at
// once: the kube-apiserver's compactor, which the server runs as well,
// compacts every 5 minutes (--etcd-compaction-interval), all the
// revisions older than the last run's.
type etcdCompactions struct{ runs, revisions float64 }

func readEtcdCompactions(metrics string) (etcdCompactions, bool) {
	// Sum counts a metric that is not there as 0.
	if !strings.Contains(metrics, "\netcd_debugging_mvcc_db_compaction_keys_total ") ||
		!strings.Contains(metrics, "\netcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count ") {
		return etcdCompactions{}, false
	}
	runs, err := promtext.Sum(metrics, "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count")
	if err != nil {
		return etcdCompactions{}, false
	}
	revisions, err := promtext.Sum(metrics, "etcd_debugging_mvcc_db_compaction_keys_total")
	if err != nil {
		return etcdCompactions{}, false
	}
	return etcdCompactions{runs: runs, revisions: revisions}, true
}

// longestBound is the bound of the lowest bucket that counts every sample
// of a histogram: the longest is at most that ("> the highest bound" when
// some are in +Inf only; "none" when nothing was counted).
func longestBound(buckets []promtext.Bucket) string {
	if len(buckets) == 0 || buckets[len(buckets)-1].Count == 0 {
		return "none"
	}
	total := buckets[len(buckets)-1].Count
	for i, b := range buckets {
		if b.Count < total {
			continue
		}
		if math.IsInf(b.Le, 1) {
			if i == 0 {
				return "unknown"
			}
			return fmt.Sprintf("> %g s", buckets[i-1].Le)
		}
		return fmt.Sprintf("%g s", b.Le)
	}
	return "unknown"
}
