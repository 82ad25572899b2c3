package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// processCounters are what the kernel counts of a process's work, per
// event steadier than its CPU time on a machine whose speed drifts: the
// minor page faults (each first touch of a fresh page of the heap is one,
// zeroed by the kernel) and the context switches of all its threads (each
// a sleep or a preemption: the wake-ups this machine finds dear).
func processCounters(pid int) (faults, switches float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	if faults, err = parseMinorFaults(string(data)); err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, task := range tasks {
		data, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended meanwhile
		}
		switches += parseContextSwitches(string(data))
	}
	return faults, switches, nil
}

// statFields are the fields of a /proc/<pid>/stat line after the command
// name, which may hold spaces and parentheses: fields[0] is field 3
// (state). It fails when fewer than want follow.
func statFields(stat string, want int) ([]string, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 > len(stat) {
		return nil, fmt.Errorf("no command name")
	}
	fields := strings.Fields(stat[i+2:])
	if len(fields) < want {
		return nil, fmt.Errorf("%d fields after the command name, want %d", len(fields), want)
	}
	return fields, nil
}

// parseMinorFaults reads minflt, field 10 of a /proc/<pid>/stat line.
func parseMinorFaults(stat string) (float64, error) {
	fields, err := statFields(stat, 8)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(fields[7], 64)
}

// parseContextSwitches adds the voluntary and involuntary context
// switches of a /proc/<pid>/task/<tid>/status.
func parseContextSwitches(status string) float64 {
	var n float64
	for _, line := range strings.Split(status, "\n") {
		for _, field := range []string{"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"} {
			if rest, ok := strings.CutPrefix(line, field); ok {
				if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
					n += v
				}
			}
		}
	}
	return n
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// pid of a process hack/local-up.sh started.
func (b *bench) pid(name string) (int, error) {
	data, err := os.ReadFile(filepath.Join(b.localDir, "run", name+".pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// kubeEtcdSyncs tells whether the kube-apiserver's etcd was started to sync
// its log to disk (hack/local-up.sh with ETCD_FSYNC=1), as ours always does.
func (b *bench) kubeEtcdSyncs() (bool, error) {
	pid, err := b.pid("etcd")
	if err != nil {
		return false, err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false, err
	}
	for _, arg := range strings.Split(string(data), "\x00") {
		if arg == "-unsafe-no-fsync=false" || arg == "--unsafe-no-fsync=false" {
			return true, nil
		}
	}
	return false, nil
}

// rssMiB is a process's resident memory.
func (b *bench) rssMiB(name string) (float64, error) { return b.statusMiB(name, "VmRSS:") }

// anonMiB is the part of the resident memory that is not file pages (the
// binary's text, etcd's memory-mapped database): the heap, stacks.
func (b *bench) anonMiB(name string) (float64, error) { return b.statusMiB(name, "RssAnon:") }

// statusMiB reads a kB field of /proc/<pid>/status.
func (b *bench) statusMiB(name, field string) (float64, error) {
	pid, err := b.pid(name)
	if err != nil {
		return 0, err
	}
	return statusMiBOf(pid, field)
}

// statusMiBOf reads a kB field of /proc/<pid>/status.
func statusMiBOf(pid int, field string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// cpuSeconds is the user plus system CPU time a process has used.
func (b *bench) cpuSeconds(name string) (float64, error) {
	pid, err := b.pid(name)
	if err != nil {
		return 0, err
	}
	return cpuSecondsOf(pid)
}

// cpuSecondsOf is the user plus system CPU time process pid has used.
func cpuSecondsOf(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	fields, err := statFields(string(data), 13)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	// utime is field 14, stime field 15.
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return (utime + stime) / clockTicks, nil
}

// cpuSnapshot is the CPU time of each process of the control plane, of
// the bench itself (its posters and the sink: "bench"), and of the whole
// machine ("machine": busy, "machine, all": busy and idle).
type cpuSnapshot map[string]float64

var processes = []string{"notification-apiserver", "receiver", "kube-apiserver", "kube-controller-manager", "etcd"}

const (
	benchCPU      = "bench"
	machineBusy   = "machine"
	machineAllCPU = "machine, all"
)

func (b *bench) cpu() cpuSnapshot {
	s := cpuSnapshot{}
	for _, p := range processes {
		if v, err := b.cpuSeconds(p); err == nil {
			s[p] = v
		}
	}
	if v, err := cpuSecondsOf(os.Getpid()); err == nil {
		s[benchCPU] = v
	}
	if busy, all, err := machineCPU(); err == nil {
		s[machineBusy], s[machineAllCPU] = busy, all
	}
	return s
}

// machineCPU reads the first line of /proc/stat: the time all processors
// spent busy (user, nice, system, irq, softirq, steal; guest time is in
// user already) and in all, idle and waiting for I/O included, in seconds.
func machineCPU() (busy, all float64, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return parseMachineCPU(line)
}

func parseMachineCPU(line string) (busy, all float64, err error) {
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected first line of /proc/stat: %q", line)
	}
	var v [8]float64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseFloat(fields[i+1], 64); err != nil {
			return 0, 0, fmt.Errorf("parsing /proc/stat: %w", err)
		}
	}
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return busy / clockTicks, (busy + v[3] + v[4]) / clockTicks, nil
}

// busyShare is the share of the machine's processors that were busy
// between two snapshots, in percent.
func (s cpuSnapshot) busyShare(before cpuSnapshot) float64 {
	all := s.since(before, machineAllCPU)
	if all <= 0 {
		return 0
	}
	return s.since(before, machineBusy) / all * 100
}

// addSince adds what each counter grew by from before to now.
func (s cpuSnapshot) addSince(now, before cpuSnapshot) {
	for name, v := range now {
		if b, ok := before[name]; ok {
			s[name] += v - b
		}
	}
}

func (s cpuSnapshot) since(before cpuSnapshot, names ...string) float64 {
	var total float64
	for _, n := range names {
		total += s[n] - before[n]
	}
	return total
}

// timeWaitSockets counts the machine's TCP sockets in TIME_WAIT (state 06
// of /proc/net/tcp and tcp6): each connection closed in the last minute.
func timeWaitSockets() (int, error) {
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return 0, err
		}
		n += countTimeWait(string(data))
	}
	return n, nil
}

// countTimeWait counts the TIME_WAIT lines of a /proc/net/tcp table: the
// fourth column, st, is 06.
func countTimeWait(table string) int {
	n := 0
	for i, line := range strings.Split(table, "\n") {
		if i == 0 {
			continue // the header
		}
		if f := strings.Fields(line); len(f) > 3 && f[3] == "06" {
			n++
		}
	}
	return n
}
