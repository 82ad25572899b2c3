package server

import (
	"os"
	"runtime/metrics"
	"testing"
	"time"
)

func TestIdleMemoryIsReturnedOnceTheServerGoesQuietAfterABusySpell(t *testing.T) {
	const MiB = 1 << 20
	m := idleMemory{period: 5 * time.Second, idleRate: 1 * MiB, minReturn: 8 * MiB}
	for _, tc := range []struct {
		name        string
		allocated   []uint64 // in each 5 s period
		reclaimable uint64
		want        []bool // whether memory is returned at the end of each period
	}{
		{"the garbage of a burst is returned once when it ends", []uint64{300 * MiB, 300 * MiB, 1 * MiB, 1 * MiB}, 30 * MiB,
			[]bool{false, false, true, false}},
		{"start-up counts as a busy spell", []uint64{1 * MiB, 1 * MiB}, 10 * MiB, []bool{true, false}},
		{"a busy server is left to its collector", []uint64{30 * MiB, 30 * MiB, 30 * MiB}, 30 * MiB, []bool{false, false, false}},
		{"little to return is left alone", []uint64{300 * MiB, 1 * MiB, 1 * MiB}, 7 * MiB, []bool{false, false, false}},
		{"each busy spell is followed by one return", []uint64{300 * MiB, 1 * MiB, 300 * MiB, 1 * MiB, 1 * MiB}, 30 * MiB,
			[]bool{false, true, false, true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &spells{idleMemory: m, prev: heapSample{allocated: 100 * MiB}, busy: true}
			for i, a := range tc.allocated {
				cur := heapSample{allocated: s.prev.allocated + a, reclaimable: tc.reclaimable}
				if got := s.next(cur, m.period); got != tc.want[i] {
					t.Errorf("period %d: returned %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestTheHeapCountersReadAreTheRuntimes(t *testing.T) {
	known := map[string]metrics.ValueKind{}
	for _, d := range metrics.All() {
		known[d.Name] = d.Kind
	}
	for _, name := range heapMetrics {
		if kind, ok := known[name]; !ok || kind != metrics.KindUint64 {
			t.Errorf("%s is not a uint64 metric of this Go runtime", name)
		}
	}
	samples := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		samples[i].Name = name
	}
	if s := readHeap(samples); s.allocated == 0 {
		t.Errorf("no bytes allocated read: %+v", s)
	}
}

func TestTheCollectorTargetIsGOGCWhenSetElse100(t *testing.T) {
	for _, tc := range []struct {
		gogc string
		want int
	}{
		{"", 100},
		{"50", 50},
		{"off", -1},
		{"OFF", -1},
		// The runtime reads what does not parse as its default.
		{"lots", 100},
	} {
		got := gcPercentDefault(func(name string) string {
			if name != "GOGC" {
				t.Fatalf("read %s", name)
			}
			return tc.gogc
		})
		if got != tc.want {
			t.Errorf("GOGC=%q: --gc-percent defaults to %d, want %d", tc.gogc, got, tc.want)
		}
	}
	if o := NewOptions(); o.GCPercent != gcPercentDefault(os.Getenv) {
		t.Errorf("the options' default is %d, not the environment's", o.GCPercent)
	}
}

func TestTheHeapMayGrowByAtLeastTheMinimumHeadroom(t *testing.T) {
	const MiB = 1 << 20
	h := gcHeadroom{percent: 100, min: 64 * MiB}
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{20 * MiB, 320},  // a small heap gets the room: 64 MiB
		{45 * MiB, 142},  // 64 MiB
		{64 * MiB, 100},  // GOGC's own room is as large
		{110 * MiB, 100}, // and larger: no more than GOGC gives
		{1 * MiB, 1000},  // start-up: bounded
		{0, 1000},        // nothing read yet
		{200 * MiB, 100},
	} {
		if got := h.target(tc.live, 0); got != tc.want {
			t.Errorf("live heap %d MiB: target %d, want %d", tc.live/MiB, got, tc.want)
		}
	}
	if got := (gcHeadroom{percent: 150, min: 64 * MiB}).target(200*MiB, 0); got != 150 {
		t.Errorf("--gc-percent=150 with a large heap: %d", got)
	}
	if got := (gcHeadroom{percent: -1, min: 64 * MiB}).target(20*MiB, 0); got != -1 {
		t.Errorf("GOGC=off: the target became %d", got)
	}
	if got := (gcHeadroom{percent: 100}).target(20*MiB, 0); got != 100 {
		t.Errorf("no minimum: %d", got)
	}
}

func TestUnderLoadTheHeapMayGrowByWhatItAllocatesInASecondUpToMax(t *testing.T) {
	const MiB = 1 << 20
	h := gcHeadroom{percent: 100, min: 64 * MiB, max: 256 * MiB, spacing: time.Second}
	for _, tc := range []struct {
		rate float64 // bytes per second
		live uint64
		want int
	}{
		{0, 40 * MiB, 160},          // idle: the minimum, 64 MiB
		{6 * MiB, 40 * MiB, 160},    // a steady trickle: the minimum
		{-1 * MiB, 40 * MiB, 160},   // nonsense: the minimum
		{150 * MiB, 40 * MiB, 375},  // a burst: what it allocates in a second
		{150 * MiB, 100 * MiB, 150}, // the same with a larger live heap
		{600 * MiB, 40 * MiB, 640},  // faster: at most 256 MiB
		{150 * MiB, 300 * MiB, 100}, // GOGC gives more room already
		{150 * MiB, 2 * MiB, 1000},  // a tiny heap: bounded
		{150 * MiB, 0, 1000},        // nothing read yet
	} {
		if got := h.target(tc.live, tc.rate); got != tc.want {
			t.Errorf("live heap %d MiB, allocating %.0f MiB/s: target %d, want %d", tc.live/MiB, tc.rate/MiB, got, tc.want)
		}
	}
	// Without a max above the minimum, the load changes nothing.
	if got := (gcHeadroom{percent: 100, min: 64 * MiB, spacing: time.Second}).target(40*MiB, 150*MiB); got != 160 {
		t.Errorf("no max: %d, want 160", got)
	}
	if got := (gcHeadroom{percent: -1, min: 64 * MiB, max: 256 * MiB, spacing: time.Second}).target(40*MiB, 150*MiB); got != -1 {
		t.Errorf("GOGC=off under load: the target became %d", got)
	}
}

func TestTheTargetMovesOnlyByMoreThanATenth(t *testing.T) {
	for _, tc := range []struct {
		current, target int
		want            bool
	}{
		{320, 318, false},
		{320, 290, false},
		{320, 280, true},
		{100, 142, true},
		{142, 100, true},
		{100, 100, false},
		{-1, 100, true},
		{100, -1, true},
	} {
		if got := worthSetting(tc.current, tc.target); got != tc.want {
			t.Errorf("from %d to %d: %v, want %v", tc.current, tc.target, got, tc.want)
		}
	}
}
