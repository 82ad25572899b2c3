package server

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"k8s.io/klog/v2"
)

// idleMemory gives the memory a busy spell left behind back to the
// operating system once the server has gone quiet.
//
// Go's collector lets the heap grow to twice what the last collection
// found live (GOGC=100) and keeps the pages it frees up to that goal. A
// burst of events ends with the heap near its goal, much of it garbage;
// an idle server collects again only when the runtime forces it, two
// minutes later, and even then the scavenger keeps the freed pages, as
// they are under the goal. After 10,000 events that was about 20 MiB of
// RSS kept for nothing (29 MiB live, 50 MiB in use), and after start-up
// about 6 MiB.
//
// A lower GOGC would keep the heap smaller during the burst too, but by
// collecting more often while the server is busy: the collector was 10%
// of the server's CPU under the burst, and GOGC=50 cost 14% more CPU for
// a peak 13 MiB lower. A GOMEMLIMIT high enough not to make the
// collector run without end once Providers and Alerts are many (the live
// heap was 120 MB with 10,000 of each) is above what a burst leaves, so
// it returns nothing. Collecting once when there is nothing else to do
// costs one collection of the live heap (tens of milliseconds of CPU)
// per busy spell; traffic that never pauses, or never rises above idle,
// is left to the collector.
type idleMemory struct {
	// period is how often the runtime's counters are read.
	period time.Duration
	// idleRate is the allocation rate, in bytes per second, under which
	// the server counts as idle. Idle, it allocates about 150 KiB/s
	// (leader election, informers' resyncs, scrapes); under a steady 50
	// events/s about 6 MiB/s, and under a burst 60 MiB/s.
	idleRate uint64
	// minReturn is how much memory the heap must hold beyond its live
	// objects for a collection to be worth forcing.
	minReturn uint64
}

// defaultIdleMemory returns the memory in the first 5 s after a busy
// spell in which the server allocated less than 1 MiB/s, when its heap
// holds at least 8 MiB beyond its live objects.
var defaultIdleMemory = idleMemory{period: 5 * time.Second, idleRate: 1 << 20, minReturn: 8 << 20}

// heapSample is what the runtime tells of its heap at one moment.
type heapSample struct {
	// allocated is the total of bytes ever allocated on the heap.
	allocated uint64
	// reclaimable is the heap memory not held by objects found live by
	// the last collection: garbage allocated since, room left unused in
	// spans, and free pages not yet returned to the operating system.
	reclaimable uint64
}

var heapMetrics = []string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

// readHeap reads the runtime's heap counters into a sample.
func readHeap(samples []metrics.Sample) heapSample {
	metrics.Read(samples)
	v := make([]uint64, len(samples))
	for i, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	allocs, live, objects, unused, free := v[0], v[1], v[2], v[3], v[4]
	var garbage uint64
	if objects > live {
		garbage = objects - live
	}
	return heapSample{allocated: allocs, reclaimable: garbage + unused + free}
}

// spells follows busy spells from one sample of the heap to the next.
type spells struct {
	idleMemory
	prev heapSample
	// busy is whether the server allocated at more than the idle rate
	// since memory was last returned. Start-up counts.
	busy bool
}

// next takes the sample at the end of a period that lasted elapsed and
// tells whether to return memory now: the server is idle after a busy
// spell and holds enough it does not use.
func (s *spells) next(cur heapSample, elapsed time.Duration) bool {
	idle := elapsed > 0 && cur.allocated >= s.prev.allocated &&
		float64(cur.allocated-s.prev.allocated)/elapsed.Seconds() < float64(s.idleRate)
	s.prev = cur
	if s.busy && idle && cur.reclaimable >= s.minReturn {
		s.busy = false
		return true
	}
	s.busy = s.busy || !idle
	return false
}

// run reads the heap counters every period until ctx is done, and
// returns memory to the operating system once after each busy spell.
func (m idleMemory) run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	samples := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		samples[i].Name = name
	}
	ticker := time.NewTicker(m.period)
	defer ticker.Stop()
	s := &spells{idleMemory: m, prev: readHeap(samples), busy: true}
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			cur := readHeap(samples)
			if s.next(cur, now.Sub(last)) {
				debug.FreeOSMemory()
				s.prev = readHeap(samples)
				logger.V(2).Info("Returned idle heap memory to the operating system",
					"reclaimableBefore", cur.reclaimable, "reclaimableAfter", s.prev.reclaimable)
			}
			last = now
		}
	}
}

// gcHeadroom keeps the collector's target (GOGC) where the heap may grow
// by at least min between two collections: --gc-percent where the live
// heap is large, more where it is small; and, while the server allocates
// fast, by what it allocates in spacing, up to max.
//
// Under a burst of events the server allocates about 100 KiB per event,
// and its live heap is small: 20–45 MB without many Providers and
// Alerts. At Go's default of 100 the collector ran about 6 times per
// 1,000 events and took 120–130 µs of CPU per event, a seventh of the
// server's (the runtime's own count, /cpu/classes/gc/total:cpu-seconds).
// At GOGC=200 it ran 2.3–2.7 times and took 41–53 µs; the CPU per event of
// server and receiver fell from 880–923 to 683–723 µs and the rate through
// the receiver rose from 1,318–1,393 to 1,635–1,717 events/s (two
// alternating runs of each). But a GOGC above 100 for every heap size
// costs memory in proportion to the heap: 10 s after a 10,000-event burst
// 19 MiB more, and with 10,000 Providers and 10,000 Alerts (a live heap
// of about 110 MB) 133 MiB more (529 against 396 MiB). A minimum headroom
// gives the small heap the room that makes its collections rare, and the
// large heap the room GOGC gives it anyway: the memory it adds is bounded
// by min.
//
// A collection costs about the marking of the live heap, whatever the
// headroom: after make bench's API step (4,000 Providers) about 60 ms of
// CPU, so at 64 MiB of headroom, one collection per ~750 events of a
// burst, 60–90 µs per event. The room a burst gets is what it allocates in
// spacing, so that it pays for at most about one collection per spacing;
// a steady trickle (50 events/s allocate about 6 MiB/s) stays at min, and
// once the burst ends the target falls back and the memory is collected,
// then returned (idleMemory). What it costs is the memory of the busy
// spell: up to max beyond the live heap at its peak. A memory limit
// (GOMEMLIMIT) still wins over all of it.
type gcHeadroom struct {
	// percent is the target where the heap is large (--gc-percent);
	// negative leaves the collector off.
	percent int
	// min is the least the heap may grow by, in bytes.
	min uint64
	// max is the most the heap may grow by while the server allocates
	// fast; at or below min, the heap gets min whatever the rate.
	max uint64
	// spacing is the allocation whose bytes make the room under load.
	spacing time.Duration
	// period is how often the live heap and the allocation are read.
	period time.Duration
}

// maxGCPercent bounds the target where the live heap is tiny (start-up).
const maxGCPercent = 1000

// room is how much the heap may grow by when the server allocates rate
// bytes per second.
func (h gcHeadroom) room(rate float64) uint64 {
	if h.max <= h.min || rate <= 0 {
		return h.min
	}
	busy := rate * h.spacing.Seconds()
	switch {
	case busy >= float64(h.max):
		return h.max
	case busy <= float64(h.min):
		return h.min
	}
	return uint64(busy)
}

// target is the GOGC that lets a heap of live bytes grow by at least the
// room of rate.
func (h gcHeadroom) target(live uint64, rate float64) int {
	room := h.room(rate)
	if h.percent < 0 || room == 0 {
		return h.percent
	}
	need := maxGCPercent
	if live > 0 && room*100/live < maxGCPercent {
		need = int(room * 100 / live)
	}
	return max(h.percent, need)
}

// run sets the collector's target from the live heap and the allocation
// rate every period until ctx is done.
func (h gcHeadroom) run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	read := func() (live, allocs uint64, ok bool) {
		metrics.Read(samples)
		if samples[0].Value.Kind() != metrics.KindUint64 || samples[1].Value.Kind() != metrics.KindUint64 {
			return 0, 0, false
		}
		return samples[0].Value.Uint64(), samples[1].Value.Uint64(), true
	}
	ticker := time.NewTicker(h.period)
	defer ticker.Stop()
	current := h.percent
	_, lastAllocs, _ := read()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			live, allocs, ok := read()
			if !ok {
				continue
			}
			var rate float64
			if elapsed := now.Sub(last).Seconds(); elapsed > 0 && allocs >= lastAllocs {
				rate = float64(allocs-lastAllocs) / elapsed
			}
			lastAllocs, last = allocs, now
			if t := h.target(live, rate); worthSetting(current, t) {
				debug.SetGCPercent(t)
				logger.V(4).Info("Set the collector's target", "gcPercent", t, "liveHeap", live, "allocationRate", uint64(rate))
				current = t
			}
		}
	}
}

// worthSetting tells whether the target should move from current to t:
// the live heap moves a little with every collection, and the target need
// not follow each move. A change of sign (the collector off or on) always
// counts.
func worthSetting(current, t int) bool {
	if (current < 0) != (t < 0) {
		return true
	}
	diff := t - current
	if diff < 0 {
		diff = -diff
	}
	return diff*10 > max(current, 1)
}

// gcPercentDefault is --gc-percent's default: GOGC from the environment,
// read as the runtime reads it (off is -1; what does not parse, 100),
// else Go's default of 100.
func gcPercentDefault(getenv func(string) string) int {
	v := getenv("GOGC")
	switch {
	case v == "":
		return 100
	case strings.EqualFold(v, "off"):
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 100
	}
	return n
}
