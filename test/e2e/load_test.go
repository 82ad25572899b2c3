package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load: posters each post unique Flux events to the receiver for the
// duration (SOAK=1: a minute), to a server that holds at most maxPending
// undelivered Events, while its receiver is slow.
const (
	loadPosters    = 100
	loadMaxPending = 300
	// slowSink is how long the sink takes per event while the posters
	// post: with the server's 16 delivery workers, far below the rate the
	// posters can store, so that a backlog builds up to the limit.
	slowSink = 500 * time.Millisecond
)

// TestLoadSoakLosesNothingAccepted posts from 100 concurrent senders to a
// second server's receiver while its sink is slow. The only answers other
// than 202 are backpressure (503 with Retry-After, from the server's
// --max-pending-events); the backlog stays at the limit and the memory
// bounded; once the sink is fast, every accepted event arrives, once, and
// the backlog empties. SOAK=1 (make soak) posts for a minute.
func TestLoadSoakLosesNothingAccepted(t *testing.T) {
	duration := 10 * time.Second
	if os.Getenv("SOAK") == "1" {
		duration = time.Minute
	}
	srv := startSecondServer(t, fmt.Sprintf("--max-pending-events=%d", loadMaxPending),
		// Deliveries the slow sink times out are retried soon once it is fast.
		"--delivery-min-backoff=100ms", "--delivery-max-backoff=2s")
	receiverURL := srv.startReceiver(t)
	ns := "e2e-load"
	createNamespace(t, ns)
	sink := newLoadSink(t)
	sink.delay.Store(int64(slowSink))
	applyObjects(t, srv.kubectlArgs(),
		providerObject(ns, "sink", map[string]any{"type": "generic", "address": sink.URL + "/hook"}),
		alertObject(ns, "all", "sink", "Kustomization"))
	waitForOn(t, srv.kubectlArgs(), ns, "alert/all", "condition=Ready")

	sampler := startLoadSampler(t, srv)
	start := time.Now()
	r := postLoad(ns, receiverURL, loadPosters, start.Add(duration))
	posted := time.Since(start)
	sink.delay.Store(0)
	t.Logf("%d posters for %s: %d accepted (202), %d backpressure answers (503), %d stored though answered 503 (429 on the retry), "+
		"%d given up at the end while refused, slowest answer %s",
		loadPosters, posted.Round(time.Millisecond), len(r.accepted), r.backpressured, r.storedOn503, r.abandoned, r.slowest.Round(time.Millisecond))
	for _, e := range r.errors {
		t.Error(e)
	}
	if r.unexpected > len(r.errors) {
		t.Errorf("%d more unexpected answers", r.unexpected-len(r.errors))
	}
	if len(r.accepted) == 0 {
		t.Fatal("no event accepted")
	}
	if r.backpressured == 0 {
		t.Errorf("no backpressure answer: the load never reached --max-pending-events=%d", loadMaxPending)
	}

	// Everything accepted arrives at the sink, now fast.
	drainStart := time.Now()
	deadline := drainStart.Add(10 * time.Minute)
	for {
		missing := sink.missing(r.accepted)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted events never arrived at the sink within 10m of the load, e.g. %q",
				len(missing), len(r.accepted), missing[:min(5, len(missing))])
		}
		time.Sleep(time.Second)
	}
	drained := time.Since(drainStart)
	// Then nothing is left pending: the gauge returns to 0.
	hc := adminHTTPClient(t)
	var pending float64
	var err error
	for deadline := time.Now().Add(2 * time.Minute); ; {
		pending, err = scrapeGauge(hc, srv.url, "notification_events_pending")
		if err == nil && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification_events_pending is %v (%v) 2m after every event arrived, want 0", pending, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	s := sampler.stop()

	delivered, duplicates, unaccepted := sink.tally(r.accepted)
	t.Logf("delivered %d distinct events (%d of them answered 503 and not retried to the end), %d duplicate deliveries, all within %s of the load",
		delivered, unaccepted, duplicates, drained.Round(time.Second))
	t.Logf("second server: max notification_events_pending %v (limit %d), min %v; RSS %d MiB before the load, at most %d MiB; %d samples",
		s.maxPending, loadMaxPending, s.minPending, s.firstRSS>>20, s.maxRSS>>20, s.samples)
	if duplicates > 0 {
		t.Errorf("%d events were delivered more than once", duplicates)
	}
	// Creates that passed the check before the delivery loop saw the
	// ones just stored: at most one per poster in flight.
	if s.maxPending > loadMaxPending+loadPosters {
		t.Errorf("notification_events_pending reached %v, want at most the limit %d and the %d creates in flight",
			s.maxPending, loadMaxPending, loadPosters)
	}
	if s.minPending < 0 {
		t.Errorf("notification_events_pending went negative: %v", s.minPending)
	}
	if s.maxRSS > 1<<30 {
		t.Errorf("the server's RSS reached %d MiB: a runaway", s.maxRSS>>20)
	}
	for _, e := range s.errors {
		t.Error(e)
	}
}

// loadResult is what the posters were answered.
type loadResult struct {
	accepted      map[string]bool // messages answered 202, or 429 after a 503
	backpressured int             // 503 with Retry-After
	storedOn503   int             // a retry answered 429: the earlier 503'd attempt was stored
	abandoned     int             // messages refused until the end
	unexpected    int
	errors        []string // the first unexpected answers
	slowest       time.Duration
}

// postLoad runs posters until end. Each posts unique events; on a 503 it
// waits a little and posts the same event again, as Flux's recorder
// retries, until end.
func postLoad(ns, url string, posters int, end time.Time) *loadResult {
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: posters}}
	defer hc.CloseIdleConnections()
	r := &loadResult{accepted: map[string]bool{}}
	var mu sync.Mutex
	record := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	fail := func(format string, args ...any) {
		record(func() {
			r.unexpected++
			if len(r.errors) < 10 {
				r.errors = append(r.errors, fmt.Sprintf(format, args...))
			}
		})
	}
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for i := 0; time.Now().Before(end); i++ {
				msg := fmt.Sprintf("load %d-%d", p, i)
				body := loadEvent(ns, p, msg)
				refused := false
				for {
					sent := time.Now()
					resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						fail("posting %q: %v", msg, err)
						return
					}
					answer, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					took := time.Since(sent)
					record(func() { r.slowest = max(r.slowest, took) })
					switch {
					case resp.StatusCode == http.StatusAccepted:
						record(func() { r.accepted[msg] = true })
					case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
						record(func() { r.backpressured++ })
						refused = true
						if time.Now().Before(end) {
							time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
							continue
						}
						record(func() { r.abandoned++ })
					case resp.StatusCode == http.StatusTooManyRequests && refused:
						// A duplicate of an attempt answered 503 that was
						// stored all the same: Flux stops retrying, and the
						// event is delivered.
						record(func() { r.accepted[msg] = true; r.storedOn503++ })
					default:
						fail("posting %q: %d (Retry-After %q) %s", msg, resp.StatusCode, resp.Header.Get("Retry-After"), bytes.TrimSpace(answer))
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	return r
}

// loadEvent is Flux's event JSON about the poster's Kustomization.
func loadEvent(ns string, poster int, message string) []byte {
	body, _ := json.Marshal(map[string]any{
		"involvedObject": map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"namespace": ns, "name": fmt.Sprintf("app-%d", poster), "uid": fmt.Sprintf("uid-%d", poster)},
		"severity": "info", "timestamp": time.Now().UTC().Format(time.RFC3339), "reason": "ReconciliationSucceeded",
		"message": message, "reportingController": "kustomize-controller", "reportingInstance": "kustomize-controller-0",
		"metadata": map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"},
	})
	return body
}

// loadSink is a generic receiver that counts the messages it is sent and
// takes delay to answer each.
type loadSink struct {
	*httptest.Server
	delay    atomic.Int64 // nanoseconds
	mu       sync.Mutex
	received map[string]int
}

func newLoadSink(t *testing.T) *loadSink {
	t.Helper()
	s := &loadSink{received: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			Message string `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.Message == "" {
			http.Error(w, "not an event", http.StatusBadRequest)
			return
		}
		time.Sleep(time.Duration(s.delay.Load()))
		s.mu.Lock()
		s.received[e.Message]++
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// missing lists the messages of want the sink has not received.
func (s *loadSink) missing(want map[string]bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for m := range want {
		if s.received[m] == 0 {
			out = append(out, m)
		}
	}
	return out
}

// tally counts the distinct messages received, the deliveries beyond the
// first of each, and the messages received that were not in accepted.
func (s *loadSink) tally(accepted map[string]bool) (delivered, duplicates, unaccepted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m, n := range s.received {
		delivered++
		duplicates += n - 1
		if !accepted[m] {
			unaccepted++
		}
	}
	return delivered, duplicates, unaccepted
}

// loadSampler samples a server's RSS and backlog until stopped.
type loadSampler struct {
	done    chan struct{}
	stopped chan loadSamples
}

type loadSamples struct {
	firstRSS, maxRSS       int64
	maxPending, minPending float64
	samples                int
	errors                 []string
}

func startLoadSampler(t *testing.T, srv *secondServer) *loadSampler {
	t.Helper()
	hc := adminHTTPClient(t)
	hc.Timeout = 10 * time.Second
	s := &loadSampler{done: make(chan struct{}), stopped: make(chan loadSamples, 1)}
	go func() {
		var out loadSamples
		defer func() { s.stopped <- out }()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			rss, err := readRSS(srv.pid)
			if err != nil {
				out.errors = append(out.errors, fmt.Sprintf("reading the server's RSS: %v", err))
				return
			}
			if out.firstRSS == 0 {
				out.firstRSS = rss
			}
			out.maxRSS = max(out.maxRSS, rss)
			// A scrape that fails under load is a missed sample, not a
			// failure: the server's answers to the posters are what count.
			if n, err := scrapeGauge(hc, srv.url, "notification_events_pending"); err == nil {
				if out.samples == 0 || n < out.minPending {
					out.minPending = n
				}
				out.maxPending = max(out.maxPending, n)
				out.samples++
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *loadSampler) stop() loadSamples {
	select {
	case <-s.done:
		return loadSamples{}
	default:
	}
	close(s.done)
	return <-s.stopped
}

// readRSS is a process's resident set size in bytes.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// scrapeGauge reads an unlabelled gauge from the /metrics of the server at url.
func scrapeGauge(hc *http.Client, url, name string) (float64, error) {
	resp, err := hc.Get(url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics answered %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}
