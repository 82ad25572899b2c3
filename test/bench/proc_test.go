package main

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/notification-apiserver/notification-apiserver/test/promtext"
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

func TestParseMinorFaults(t *testing.T) {
	// pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt ...
	stat := "4242 (notification-apiserver) S 1 4242 4242 0 -1 4194560 12345 0 7 0 150 40 0 0 20 0 12 0 100"
	if got, err := parseMinorFaults(stat); err != nil || got != 12345 {
		t.Errorf("parseMinorFaults = %v, %v; want 12345", got, err)
	}
	// A command name may hold spaces and parentheses.
	stat = "7 (a (b) c) R 1 7 7 0 -1 0 99 0 0 0 1 1"
	if got, err := parseMinorFaults(stat); err != nil || got != 99 {
		t.Errorf("parseMinorFaults with spaces in the name = %v, %v; want 99", got, err)
	}
	for _, bad := range []string{"", "7 (x", "7 (x) R 1 2", "7 (x) R 1 7 7 0 -1 0 many 0"} {
		if _, err := parseMinorFaults(bad); err == nil {
			t.Errorf("parseMinorFaults(%q) gave no error", bad)
		}
	}
}

func TestParseContextSwitchesAddsBothKinds(t *testing.T) {
	status := "Name:\tnotification-api\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n"
	if got := parseContextSwitches(status); got != 127 {
		t.Errorf("parseContextSwitches = %v, want 127", got)
	}
	if got := parseContextSwitches("Name:\tx\n"); got != 0 {
		t.Errorf("parseContextSwitches without the fields = %v, want 0", got)
	}
}

func TestProcessCountersOfThisProcess(t *testing.T) {
	faults, switches, err := processCounters(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A running Go test has touched fresh pages and has slept.
	if faults <= 0 || switches <= 0 {
		t.Errorf("processCounters = %v faults, %v switches; want both above 0", faults, switches)
	}
}

func TestLastEmbeddedEtcdURLIsTheLastStart(t *testing.T) {
	log := `I1128 10:00:00.000000  1 start.go:272] "Started embedded etcd" dir="/d" clientURL="http://127.0.0.1:40001"
I1128 10:00:01.000000  1 other.go:1] "Something else" clientURL="http://127.0.0.1:9"
I1128 10:05:00.000000  1 start.go:272] "Started embedded etcd" dir="/d" clientURL="http://127.0.0.1:40002"
`
	if got := lastEmbeddedEtcdURL(log); got != "http://127.0.0.1:40002" {
		t.Errorf("lastEmbeddedEtcdURL = %q, want the second start's", got)
	}
	if got := lastEmbeddedEtcdURL("I1128 no etcd here\n"); got != "" {
		t.Errorf("lastEmbeddedEtcdURL without a start = %q, want empty", got)
	}
}

func TestLongestBound(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		buckets []promtext.Bucket
		want    string
	}{
		{nil, "none"},
		{[]promtext.Bucket{{Le: 0.001, Count: 0}, {Le: inf, Count: 0}}, "none"},
		{[]promtext.Bucket{{Le: 0.001, Count: 3}, {Le: 0.002, Count: 5}, {Le: 0.004, Count: 5}, {Le: inf, Count: 5}}, "0.002 s"},
		{[]promtext.Bucket{{Le: 0.001, Count: 3}, {Le: 0.002, Count: 5}, {Le: inf, Count: 6}}, "> 0.002 s"},
	} {
		if got := longestBound(c.buckets); got != c.want {
			t.Errorf("longestBound(%v) = %q, want %q", c.buckets, got, c.want)
		}
	}
}

func TestCountTimeWait(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9C40 0100007F:1F90 06 00000000:00000000 03:00000F2A 00000000     0        0 0 3 0000000000000000
   2: 0100007F:9C41 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:9C42 0100007F:1F90 06 00000000:00000000 03:00000F2B 00000000     0        0 0 3 0000000000000000
`
	if got := countTimeWait(table); got != 2 {
		t.Errorf("countTimeWait = %d, want 2 (the lines in state 06)", got)
	}
	if got := countTimeWait("  sl  local_address rem_address   st\n"); got != 0 {
		t.Errorf("countTimeWait of a header alone = %d, want 0", got)
	}
	if _, err := timeWaitSockets(); err != nil {
		t.Errorf("reading this machine's sockets: %v", err)
	}
}

func TestReadEtcdCompactions(t *testing.T) {
	metrics := `# HELP etcd_debugging_mvcc_db_compaction_keys_total Total number of db keys compacted.
# TYPE etcd_debugging_mvcc_db_compaction_keys_total counter
etcd_debugging_mvcc_db_compaction_keys_total 1501
# TYPE etcd_debugging_mvcc_db_compaction_total_duration_milliseconds histogram
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_bucket{le="100"} 1
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_bucket{le="+Inf"} 2
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_sum 518
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count 2
`
	got, ok := readEtcdCompactions(metrics)
	if !ok || got != (etcdCompactions{runs: 2, revisions: 1501}) {
		t.Errorf("readEtcdCompactions = %+v, %v; want 2 runs, 1501 revisions", got, ok)
	}
	if _, ok := readEtcdCompactions("go_goroutines 12\n"); ok {
		t.Error("readEtcdCompactions read counters that are not there")
	}
	if etcdWaitHistograms("") != nil {
		t.Error("etcdWaitHistograms of no metrics is not nil")
	}
}
