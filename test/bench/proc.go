package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

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
	// The command name may hold spaces: count fields after its ")".
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// fields[0] is field 3 (state): utime is field 14, stime field 15.
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return (utime + stime) / clockTicks, nil
}

// cpuSnapshot is the CPU time of each process of the control plane.
type cpuSnapshot map[string]float64

var processes = []string{"notification-apiserver", "receiver", "kube-apiserver", "etcd"}

func (b *bench) cpu() cpuSnapshot {
	s := cpuSnapshot{}
	for _, p := range processes {
		if v, err := b.cpuSeconds(p); err == nil {
			s[p] = v
		}
	}
	return s
}

func (s cpuSnapshot) since(before cpuSnapshot, names ...string) float64 {
	var total float64
	for _, n := range names {
		total += s[n] - before[n]
	}
	return total
}
