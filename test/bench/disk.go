package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// diskSyncs measures the floor of a durable write on this machine: an
// fdatasync after a small append, as etcd's write-ahead log does for each
// transaction, in a file beside the embedded etcd's data (same file
// system), at rate per second for d. It returns each fdatasync's time.
func (b *bench) diskSyncs(d time.Duration, rate int) ([]time.Duration, error) {
	path := filepath.Join(b.localDir, "fdatasync-probe")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the disk probe: %w", err)
	}
	defer os.Remove(path)
	defer f.Close()
	// etcd preallocates its log segments: appends then change no size.
	const record, size = 1024, 16 << 20
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return nil, fmt.Errorf("preallocating the disk probe: %w", err)
	}
	buf := make([]byte, record)
	n := int(d.Seconds() * float64(rate))
	times := make([]time.Duration, 0, n)
	ticker := time.NewTicker(time.Second / time.Duration(rate))
	defer ticker.Stop()
	for i := range n {
		<-ticker.C
		if (i+1)*record > size {
			break
		}
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return nil, fmt.Errorf("writing the disk probe: %w", err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("fdatasync of the disk probe: %w", err)
		}
		times = append(times, time.Since(start))
	}
	return times, nil
}
