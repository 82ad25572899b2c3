package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/test/promtext"
)

const deliveryNS = "bench-delivery"

// poster sends the event with sequence number seq of a run.
type poster func(ctx context.Context, run string, seq int) error

func (b *bench) deliveryBenchmarks(ctx context.Context) error {
	if err := b.namespace(ctx, deliveryNS); err != nil {
		return err
	}
	if err := b.route(ctx, deliveryNS, "sink", "all", b.sink.URL+"/delivery"); err != nil {
		return err
	}
	r := b.results
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.posters}, Timeout: 30 * time.Second}

	// The physical limit: a plain Go client posting the same JSON straight
	// to the same sink, keep-alive on.
	plain := func(ctx context.Context, run string, seq int) error {
		return postJSON(ctx, httpClient, b.sink.URL+"/plain", fluxEvent(deliveryNS, run, seq))
	}
	limit, err := b.burstRun(ctx, "plain", b.events, plain, false)
	if err != nil {
		return fmt.Errorf("plain client: %w", err)
	}
	r.add("delivery.limit.rate (plain client to the sink)", "events/s", limit.rate)
	r.add("delivery.limit.p50", "ms", limit.p50)
	r.add("delivery.limit.p99", "ms", limit.p99)

	receiver := func(ctx context.Context, run string, seq int) error {
		return postJSON(ctx, httpClient, b.receiverURL, fluxEvent(deliveryNS, run, seq))
	}
	api := func(ctx context.Context, run string, seq int) error {
		_, err := b.client.NotificationV1beta2().Events(deliveryNS).Create(ctx, apiEvent(run, seq), metav1.CreateOptions{})
		return err
	}
	for _, path := range []struct {
		name string
		post poster
	}{{"receiver", receiver}, {"api", api}} {
		if !contains(b.paths, path.name) {
			continue
		}
		// The peer of delivery through the API is the CRD's create rate,
		// measured again around this burst (half of its creates just
		// before it, half just after): the machine's speed drifts by tens
		// of percent between the API step and this one.
		var crdAround timings
		if path.name == "api" && b.crdCreateRate > 0 {
			if crdAround, err = b.crdCreates(ctx, "before", b.events/2); err != nil {
				return fmt.Errorf("CRD creates before the burst through the API: %w", err)
			}
		}
		var res burstResult
		burst := func() (err error) {
			if res, err = b.burstRun(ctx, path.name, b.events, path.post, true); err != nil {
				return fmt.Errorf("burst through the %s: %w", path.name, err)
			}
			return nil
		}
		// The peer of delivery through the receiver is Flux's rate
		// measured again around this burst, as the CRD's is around the
		// API's; the peer then stops, as it did before this step.
		var fluxBefore, fluxAfter, fluxAround float64
		if path.name == "receiver" {
			fluxBefore, fluxAfter, fluxAround, err = b.fluxAround(ctx, b.events, burst)
			b.stopFlux()
		} else {
			err = burst()
		}
		if err != nil {
			return err
		}
		if path.name == "api" && b.crdCreateRate > 0 {
			after, err := b.crdCreates(ctx, "after", b.events-b.events/2)
			if err != nil {
				return fmt.Errorf("CRD creates after the burst through the API: %w", err)
			}
			crdAround.add(after)
		}
		m := r.add(fmt.Sprintf("delivery.%s.rate (%d events, %d posters)", path.name, b.events, b.posters), "events/s", res.rate).
			versus("plain client", limit.rate)
		if path.name == "receiver" {
			switch {
			case fluxAround > 0:
				r.add("delivery.receiver.rate vs Flux", "events/s", res.rate).
					versus("Flux's notification-controller, around this burst", fluxAround).ratioAtLeast("≥ 1.0 × Flux's fire-and-forget rate", 1.0).
					note("a fresh controller of Flux's (as for its first burst): %d events just before this burst at %.0f/s, %d just after at %.0f/s, same posters and sink; its first burst, in the flux step: %.0f/s (%.2f ×)",
						b.events, fluxBefore, b.events, fluxAfter, b.flux.rate, res.rate/b.flux.rate)
			case b.flux != nil:
				r.add("delivery.receiver.rate vs Flux", "events/s", res.rate).
					versus("Flux's notification-controller, this run", b.flux.rate).ratioAtLeast("≥ 1.0 × Flux's fire-and-forget rate", 1.0)
			default:
				m.Target = "≥ Flux's fire-and-forget rate (2,300–2,450/s on this machine; -only without flux)"
				met := res.rate >= 2300
				m.Met = &met
			}
		}
		if path.name == "api" && b.crdCreateRate > 0 {
			r.add("delivery.api.rate vs CRD creates", "events/s", res.rate).
				versus("CRD creates/s, around this burst", crdAround.rate()).ratioAtLeast("≥ 1.0 × CRD create rate", 1.0).
				note("%d CRD creates with %d clients, half just before the burst, half just after; in the api step %.0f/s (%.2f ×)",
					len(crdAround.latencies), b.posters, b.crdCreateRate, res.rate/b.crdCreateRate)
		}
		r.add(fmt.Sprintf("delivery.%s.p50 (post to sink)", path.name), "ms", res.p50).versus("plain client", limit.p50)
		r.add(fmt.Sprintf("delivery.%s.p99", path.name), "ms", res.p99).versus("plain client", limit.p99)
		m = r.add(fmt.Sprintf("delivery.%s.cpu per event (server+receiver)", path.name), "µs", res.cpuOurs)
		if path.name == "receiver" {
			m.atMost("< 490 µs (Flux)", 490)
			if b.flux != nil {
				m.versus("Flux's controller, this run", b.flux.cpuPerEvent)
			}
		}
		if path.name == "receiver" {
			r.add("delivery.receiver.cpu per event (receiver alone)", "µs", res.cpuReceiver)
		}
		for _, write := range []string{"create", "status"} {
			if v, ok := res.perTxn[write]; ok {
				r.add(fmt.Sprintf("delivery.%s.events per etcd transaction (%s)", path.name, write), "events", v)
			}
		}
		r.add(fmt.Sprintf("delivery.%s.cpu per event (kube-apiserver)", path.name), "µs", res.cpuKube)
		r.add(fmt.Sprintf("delivery.%s.cpu per event (kube-controller-manager)", path.name), "µs", res.cpuKCM)
		m = r.add(fmt.Sprintf("delivery.%s.cpu per event (whole machine)", path.name), "µs", res.cpuMachine).
			note("every process and the kernel: the posters and the sink (%.0f µs), the control plane", res.cpuBench)
		if path.name == "receiver" && b.flux != nil && b.flux.cpuMachine > 0 {
			m.versus("Flux's run, whole machine", b.flux.cpuMachine)
		}
		r.add(fmt.Sprintf("delivery.%s.machine busy", path.name), "%", res.busy)
		for _, c := range workCounterNames {
			if v, ok := res.work[c.name]; ok {
				per := "per event"
				if c.per != "" {
					per = c.per
				}
				r.add(fmt.Sprintf("delivery.%s.%s %s (server)", path.name, c.name, per), c.unit, v*c.scale)
			}
		}
		r.add(fmt.Sprintf("delivery.%s.sink connections opened", path.name), "connections", float64(res.connections)).
			atMost("a handful (≤ one per delivery worker), not one per event", 16)
		r.add(fmt.Sprintf("delivery.%s.duplicates", path.name), "events", float64(res.dups))
		r.add(fmt.Sprintf("delivery.%s.rss max during burst", path.name), "MiB", res.rssMax)
		if res.lost > 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("delivery through the %s: %d accepted events never arrived", path.name, res.lost))
		}
	}

	// Through the receiver again with eight times the posters: each batch
	// holds more events, so what a request and a transaction cost is
	// spread over more of them. No target: it shows how much of the cost
	// per event is per request.
	if contains(b.paths, "receiver") {
		wide := 8 * b.posters
		wideClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * wide}, Timeout: 30 * time.Second}
		posters := b.posters
		b.posters = wide
		res, err := b.burstRun(ctx, "receiver-wide", b.events, func(ctx context.Context, run string, seq int) error {
			return postJSON(ctx, wideClient, b.receiverURL, fluxEvent(deliveryNS, run, seq))
		}, true)
		b.posters = posters
		if err != nil {
			return fmt.Errorf("burst through the receiver with %d posters: %w", wide, err)
		}
		r.add(fmt.Sprintf("delivery.receiver.rate (%d events, %d posters)", b.events, wide), "events/s", res.rate).
			versus("plain client", limit.rate)
		r.add(fmt.Sprintf("delivery.receiver.cpu per event (server+receiver, %d posters)", wide), "µs", res.cpuOurs)
		if v, ok := res.perTxn["create"]; ok {
			r.add(fmt.Sprintf("delivery.receiver.events per etcd transaction (create, %d posters)", wide), "events", v)
		}
		if res.lost > 0 {
			r.Errors = append(r.Errors, fmt.Sprintf("delivery through the receiver with %d posters: %d accepted events never arrived", wide, res.lost))
		}
	}
	return nil
}

// steadyBenchmark posts at a fixed rate through the receiver.
func (b *bench) steadyBenchmark(ctx context.Context) error {
	if err := b.namespace(ctx, deliveryNS); err != nil {
		return err
	}
	if err := b.route(ctx, deliveryNS, "sink", "all", b.sink.URL+"/delivery"); err != nil {
		return err
	}
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.posters}, Timeout: 30 * time.Second}
	return b.steady(ctx, "steady", func(ctx context.Context, run string, seq int) error {
		return postJSON(ctx, httpClient, b.receiverURL, fluxEvent(deliveryNS, run, seq))
	})
}

// steady posts at b.rate for b.duration through post.
func (b *bench) steady(ctx context.Context, label string, post poster) error {
	run := fmt.Sprintf("%s%d", label, time.Now().UnixNano())
	rssBefore, _ := b.rssMiB("notification-apiserver")
	b.profile(label)
	writesBefore := b.writeDurations()
	batchesBefore := b.batchRequestDurations()
	etcdMetricsBefore := b.etcdMetrics()
	etcdBefore := etcdWaitHistograms(etcdMetricsBefore)
	reviewsBefore := b.reviews()
	// After the scrape of the metrics: its CPU is the bench's, not the
	// events'.
	cpuBefore := b.cpu()
	res := b.steadyPosts(ctx, run, post)
	cpuAfter := b.cpu()
	reviews := b.reviews().since(reviewsBefore)
	rssAfter, _ := b.rssMiB("notification-apiserver")
	r := b.results
	prefix := fmt.Sprintf("delivery.%s (%d/s for %s)", label, b.rate, b.duration)
	r.add(prefix+".p50", "ms", percentile(res.lat, 50))
	r.add(prefix+".p90", "ms", percentile(res.lat, 90))
	m := r.add(prefix+".p99", "ms", percentile(res.lat, 99)).atMost("< 5 ms", 5)
	if b.flux != nil {
		m.versus("Flux", b.flux.steadyP99)
	}
	r.add(prefix+".max", "ms", percentile(res.lat, 100))
	// Where the p99 goes: an event is answered once its etcd transaction
	// is durable, and delivered from its watch event.
	r.add(prefix+".answered p50 (post to the receiver's answer: stored)", "ms", percentile(res.answered, 50))
	r.add(prefix+".answered p99", "ms", percentile(res.answered, 99))
	if writes := promtext.Since(writesBefore, b.writeDurations()); !math.IsNaN(promtext.Quantile(0.5, writes)) {
		r.add(prefix+".etcd create transaction p50 (server)", "ms", promtext.Quantile(0.5, writes)*1000)
		r.add(prefix+".etcd create transaction p99 (server)", "ms", promtext.Quantile(0.99, writes)*1000).
			note("from the server's notification_event_write_duration_seconds buckets")
		r.add(prefix+".etcd create transactions over 5 ms", "%", promtext.Above(0.005, writes)*100)
		r.add(prefix+".etcd create transactions over 50 ms", "transactions", promtext.Over(0.05, writes))
	}
	// A stall of the answers shows here when the server held the requests
	// (and in the line above when etcd did); else it was on the way.
	if batches := promtext.Since(batchesBefore, b.batchRequestDurations()); len(batches) > 0 {
		r.add(prefix+".batch requests over 50 ms (server)", "requests", promtext.Over(0.05, batches)).
			note("from the server's apiserver_request_duration_seconds of eventbatches")
	}
	// Inside the embedded etcd: a transaction waits for the raft log's
	// fdatasync, and for the backend's commit and a snapshot's save, which
	// hold up the applying of the transactions behind them.
	if etcdBefore != nil {
		etcdMetricsAfter := b.etcdMetrics()
		etcdAfter := etcdWaitHistograms(etcdMetricsAfter)
		for _, w := range etcdWaits {
			waits := promtext.Since(etcdBefore[w.name], etcdAfter[w.name])
			if len(waits) == 0 {
				continue
			}
			r.add(fmt.Sprintf("%s.%s over 32 ms (server's embedded etcd)", prefix, w.name), "count", promtext.Over(0.032, waits)).
				note("%.0f in all, longest at most %s", waits[len(waits)-1].Count, longestBound(waits))
		}
		// A compaction's batches are backend commits too, each with an
		// fdatasync of the database beside the log's.
		before, okBefore := readEtcdCompactions(etcdMetricsBefore)
		after, okAfter := readEtcdCompactions(etcdMetricsAfter)
		if okBefore && okAfter {
			r.add(prefix+".etcd compactions (server's embedded etcd)", "count", after.runs-before.runs).
				note("%.0f old revisions removed during the run", after.revisions-before.revisions)
		}
	}
	// A review the kube-apiserver does not answer is retried after 0.5 s,
	// then 0.75 s: the events of that second wait for it.
	r.add(prefix+".reviews not answered 201 (server's authentication and authorization)", "requests", reviews.authnFailed+reviews.authzFailed).
		note("%.0f TokenReviews (%.0f not 201) and %.0f SubjectAccessReviews (%.0f not 201) to the kube-apiserver during the run",
			reviews.authn, reviews.authnFailed, reviews.authz, reviews.authzFailed)
	// Events that come while a review is under way wait for it: a slow
	// one shows in the tail as a run of late answers.
	r.add(prefix+".time in reviews (server's authentication and authorization)", "ms", reviews.seconds*1000).
		note("the sum of the durations of the reviews counted above")
	r.add(prefix+".cpu per event (server+receiver)", "µs", cpuAfter.since(cpuBefore, "notification-apiserver", "receiver")/float64(res.sent)*1e6)
	r.add(prefix+".rss growth", "MiB", rssAfter-rssBefore).note("from %.0f to %.0f MiB", rssBefore, rssAfter)
	r.add(prefix+".failed posts", "events", float64(res.failed))
	r.add(prefix+".duplicates", "events", float64(res.dups))
	if res.lost > 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: %d accepted events never arrived", label, res.lost))
	}
	return nil
}

// steadyResult is what posting at a fixed rate measured.
type steadyResult struct {
	// lat is from each post to the event's arrival at the sink, answered
	// to the answer to the post, in ms.
	lat, answered            []time.Duration
	sent, failed, dups, lost int
}

// steadyPosts posts the events of run at b.rate for b.duration through
// post, each from its own goroutine, and waits for them at the sink.
func (b *bench) steadyPosts(ctx context.Context, run string, post poster) steadyResult {
	n := int(float64(b.rate) * b.duration.Seconds())
	sent := make([]time.Time, n)
	answered := map[int]time.Time{}
	var ackMu sync.Mutex
	var failed atomic.Int64
	var wg sync.WaitGroup
	ticker := time.NewTicker(time.Second / time.Duration(b.rate))
	for i := range n {
		<-ticker.C
		wg.Add(1)
		sent[i] = time.Now()
		go func() {
			defer wg.Done()
			if err := post(ctx, run, i); err != nil {
				failed.Add(1)
				sent[i] = time.Time{}
				return
			}
			ackMu.Lock()
			answered[i] = time.Now()
			ackMu.Unlock()
		}()
	}
	ticker.Stop()
	wg.Wait()
	accepted := n - int(failed.Load())
	arrivals, dups := b.sink.wait(run, accepted, 2*time.Minute)
	return steadyResult{
		lat: latencies(sent, arrivals), answered: latencies(sent, answered),
		sent: n, failed: int(failed.Load()), dups: dups, lost: accepted - len(arrivals),
	}
}

type burstResult struct {
	rate, p50, p99   float64
	cpuOurs, cpuKube float64            // µs per event
	cpuReceiver      float64            // µs per event, the receiver's share of cpuOurs
	perTxn           map[string]float64 // Events per etcd transaction, by write
	// work is what the server did per event, by counter (see workCounters).
	work        map[string]float64
	connections int64
	dups, lost  int
	rssMax      float64

	// cpuMachine is the whole machine's busy CPU per event (µs): every
	// process, the kernel's work for them, the bench's posters and sink;
	// busy is the share of the processors busy meanwhile (%). cpuKCM and
	// cpuBench are the kube-controller-manager's and the bench's parts.
	cpuMachine, busy, cpuKCM, cpuBench float64
}

// burstRun posts n events with b.posters clients and waits for them at the
// sink.
func (b *bench) burstRun(ctx context.Context, label string, n int, post poster, measureServer bool) (burstResult, error) {
	run := fmt.Sprintf("%s%d", label, time.Now().UnixNano())
	var res burstResult
	conns := b.sink.connections.Load()
	stopSampling := b.sampleRSS(&res.rssMax)
	profiled := func() {}
	batchesBefore := b.batchItems()
	workBefore := b.workCounters()
	if measureServer {
		profiled = b.profile(label)
	}
	// After the scrapes of the metrics (tens of milliseconds of the
	// server's CPU each): they are the bench's work, not the events'.
	cpuBefore := b.cpu()
	sent := make([]time.Time, n)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range b.posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				sent[i] = time.Now()
				if err := post(ctx, run, i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					sent[i] = time.Time{}
				}
			}
		}()
	}
	wg.Wait()
	accepted := n - int(failed.Load())
	arrivals, dups := b.sink.wait(run, accepted, 5*time.Minute)
	stopSampling()
	cpuAfter := b.cpu()
	if f := failed.Load(); f > 0 {
		return res, fmt.Errorf("%d of %d posts failed, the first: %v", f, n, firstErr.Load())
	}
	var last time.Time
	for _, t := range arrivals {
		if t.After(last) {
			last = t
		}
	}
	lat := latencies(sent, arrivals)
	res.rate = float64(len(arrivals)) / last.Sub(start).Seconds()
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	if measureServer {
		res.cpuOurs = cpuAfter.since(cpuBefore, "notification-apiserver", "receiver") / float64(n) * 1e6
		res.cpuKube = cpuAfter.since(cpuBefore, "kube-apiserver") / float64(n) * 1e6
		res.cpuReceiver = cpuAfter.since(cpuBefore, "receiver") / float64(n) * 1e6
		res.cpuKCM = cpuAfter.since(cpuBefore, "kube-controller-manager") / float64(n) * 1e6
	}
	res.cpuMachine = cpuAfter.since(cpuBefore, machineBusy) / float64(n) * 1e6
	res.busy = cpuAfter.busyShare(cpuBefore)
	res.cpuBench = cpuAfter.since(cpuBefore, benchCPU) / float64(n) * 1e6
	res.connections = b.sink.connections.Load() - conns
	res.dups, res.lost = dups, accepted-len(arrivals)
	batchesAfter := b.batchItems()
	res.work = map[string]float64{}
	for name, after := range b.workCounters() {
		if before, ok := workBefore[name]; ok && n > 0 {
			res.work[name] = (after - before) / float64(n)
		}
	}
	res.perTxn = map[string]float64{}
	for write, after := range batchesAfter {
		before := batchesBefore[write]
		if n := after[1] - before[1]; n > 0 {
			res.perTxn[write] = (after[0] - before[0]) / n
		}
	}
	profiled()
	return res, nil
}

// sampleRSS records the server's largest RSS until the returned func runs.
func (b *bench) sampleRSS(max *float64) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := b.rssMiB("notification-apiserver"); err == nil && v > *max {
				*max = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-stopped }
}

func latencies(sent []time.Time, arrivals map[int]time.Time) []time.Duration {
	var out []time.Duration
	for i, t := range sent {
		if a, ok := arrivals[i]; ok && !t.IsZero() {
			out = append(out, a.Sub(t))
		}
	}
	return out
}

// route makes a generic Provider to address and an Alert that sends it
// every Kustomization event of the namespace, and waits until both are Ready.
func (b *bench) route(ctx context.Context, ns, provider, alert, address string) error {
	p := &v1beta2.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: provider},
		Spec:       v1beta2.ProviderSpec{Type: "generic", Address: address},
	}
	if err := b.ensureProvider(ctx, ns, p); err != nil {
		return err
	}
	a := &v1beta2.Alert{
		ObjectMeta: metav1.ObjectMeta{Name: alert},
		Spec: v1beta2.AlertSpec{
			ProviderRef:   v1beta2.LocalObjectReference{Name: provider},
			EventSeverity: "info",
			EventSources:  []v1beta2.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
		},
	}
	if _, err := b.client.NotificationV1beta2().Alerts(ns).Create(ctx, a, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return b.waitAlertsReady(ctx, ns, 1)
}

// waitAlertsReady waits until n Alerts of ns are Ready: the server routes
// with what it has seen.
func (b *bench) waitAlertsReady(ctx context.Context, ns string, n int) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := b.client.NotificationV1beta2().Alerts(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		readyCount := 0
		for _, a := range list.Items {
			if ready(a.Status.Conditions, a.Generation) {
				readyCount++
			}
		}
		return readyCount >= n, nil
	})
}

// fluxEvent is what a Flux controller posts to the receiver.
func fluxEvent(ns, run string, seq int) []byte {
	data, _ := json.Marshal(map[string]any{
		"involvedObject": map[string]string{
			"kind": "Kustomization", "namespace": ns, "name": "app",
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "uid": "8c7e1c3e-0f43-4b0e-9a38-5d1f0c2a9b11",
		},
		"severity":            "info",
		"timestamp":           time.Now().UTC().Format(time.RFC3339),
		"message":             message(run, seq),
		"reason":              "ReconciliationSucceeded",
		"reportingController": "kustomize-controller",
		"reportingInstance":   "kustomize-controller-7c9f8d6b5-x2x4q",
		"metadata":            map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
	})
	return data
}

func apiEvent(run string, seq int) *v1beta2.Event {
	return &v1beta2.Event{
		InvolvedObject: v1beta2.ObjectReference{
			Kind: "Kustomization", Namespace: deliveryNS, Name: "app", APIVersion: "kustomize.toolkit.fluxcd.io/v1",
		},
		Severity:            "info",
		Timestamp:           metav1.Now(),
		Message:             message(run, seq),
		Reason:              "ReconciliationSucceeded",
		ReportingController: "kustomize-controller",
		EventMetadata:       map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
	}
}

func postJSON(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// ensureProvider creates a Provider, or points an existing one (of an
// earlier run on the same control plane) at this run's address.
func (b *bench) ensureProvider(ctx context.Context, ns string, p *v1beta2.Provider) error {
	providers := b.client.NotificationV1beta2().Providers(ns)
	_, err := providers.Create(ctx, p, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"address": p.Spec.Address}})
	if err != nil {
		return err
	}
	_, err = providers.Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// workCounterNames are the counters of the server that tell, per event,
// how much work it did, steadier from run to run than its CPU time on a
// machine whose speed drifts: what it allocated (the collector's work
// follows) and how often it decoded an Event for a watch.
var workCounterNames = []struct {
	name, metric, match, unit string
	scale                     float64
	per                       string // what the scaled value is per: one event unless said
}{
	{"allocated", "go_memstats_alloc_bytes_total", "", "KiB", 1.0 / 1024, ""},
	{"allocations", "go_memstats_mallocs_total", "", "objects", 1, ""},
	{"watch decodes", "notification_event_watch_decodes_total", `result="decoded"`, "decodes", 1, ""},
	{"watch decode copies", "notification_event_watch_decodes_total", `result="copied"`, "copies", 1, ""},
	{"writes the watches copy as written", "notification_event_watch_decodes_total", `result="written"`, "writes", 1, ""},
	// The Go runtime's own estimate of the collector's CPU, apart from the
	// process's (which the machine's drift blurs), and how often it ran.
	{"GC CPU", "go_cpu_classes_gc_total_cpu_seconds_total", "", "µs", 1e6, ""},
	{"GC cycles", "go_gc_cycles_total_gc_cycles_total", "", "cycles", 1000, "per 1,000 events"},
	// From /proc, not the metrics (see processCounters).
	{minorFaults, "", "", "faults", 1, ""},
	{contextSwitches, "", "", "switches", 1, ""},
}

const (
	minorFaults     = "minor page faults"
	contextSwitches = "context switches"
)

// workCounters reads workCounterNames from the server's metrics.
func (b *bench) workCounters() map[string]float64 {
	text := b.serverMetrics()
	out := map[string]float64{}
	if pid, err := b.pid("notification-apiserver"); err == nil {
		if faults, switches, err := processCounters(pid); err == nil {
			out[minorFaults], out[contextSwitches] = faults, switches
		}
	}
	for _, c := range workCounterNames {
		if c.metric == "" {
			continue
		}
		var match []string
		if c.match != "" {
			match = []string{c.match}
		}
		if v, err := promtext.Sum(text, c.metric, match...); err == nil {
			out[c.name] = v
		}
	}
	return out
}

// crdCreates creates n Providers of the CRD peer, named after run, with
// the bench's clients, and times them.
func (b *bench) crdCreates(ctx context.Context, run string, n int) (timings, error) {
	return b.createMany(n, b.posters, func(ctx context.Context, i int) error {
		p := benchProvider(i)
		p.Name = fmt.Sprintf("%s-%s-%05d", "delivery", run, i)
		u, err := toUnstructured(p)
		if err != nil {
			return err
		}
		_, err = b.dynamic.Resource(crdResource).Namespace(crdNS).Create(ctx, u, metav1.CreateOptions{})
		return err
	})
}
