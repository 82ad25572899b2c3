package main

import (
	"testing"
	"time"
)

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	busy, all, err := parseMachineCPU("cpu  1000 20 300 5000 40 5 60 7 100 0")
	if err != nil {
		t.Fatal(err)
	}
	// Busy: user, nice, system, irq, softirq, steal (guest is in user).
	if want := (1000.0 + 20 + 300 + 5 + 60 + 7) / clockTicks; busy != want {
		t.Errorf("busy = %v, want %v", busy, want)
	}
	if want := (1000.0 + 20 + 300 + 5000 + 40 + 5 + 60 + 7) / clockTicks; all != want {
		t.Errorf("all = %v, want %v", all, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if _, _, err := parseMachineCPU(bad); err == nil {
			t.Errorf("parseMachineCPU(%q) gave no error", bad)
		}
	}
}

func TestBusyShare(t *testing.T) {
	before := cpuSnapshot{machineBusy: 10, machineAllCPU: 40}
	after := cpuSnapshot{machineBusy: 13, machineAllCPU: 44}
	if got := after.busyShare(before); got != 75 {
		t.Errorf("busyShare = %v, want 75", got)
	}
	if got := before.busyShare(before); got != 0 {
		t.Errorf("busyShare with no time passed = %v, want 0", got)
	}
}

func TestTimeOverCountsOnlyTheSlowCalls(t *testing.T) {
	tm := timings{latencies: []time.Duration{5 * time.Millisecond, 150 * time.Millisecond, 100 * time.Millisecond, 2 * time.Second}}
	if got := tm.over(100 * time.Millisecond); got != 2150 {
		t.Errorf("time over 100 ms: %v ms, want 2150", got)
	}
}
