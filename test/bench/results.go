package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Metric is one number, with its side-by-side peer and its target when it
// has them.
type Metric struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	// Peer is what the number is compared with, measured in the same run.
	Peer      string   `json:"peer,omitempty"`
	PeerValue *float64 `json:"peerValue,omitempty"`
	// Ratio is Value/PeerValue.
	Ratio  *float64 `json:"ratio,omitempty"`
	Target string   `json:"target,omitempty"`
	Met    *bool    `json:"met,omitempty"`
	Note   string   `json:"note,omitempty"`
}

// GoBenchmark is one line of `go test -bench`.
type GoBenchmark struct {
	Package     string  `json:"package"`
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
}

// Results is what `make bench` writes.
type Results struct {
	Started      time.Time     `json:"started"`
	Finished     time.Time     `json:"finished"`
	CPUs         int           `json:"cpus"`
	GoVersion    string        `json:"goVersion"`
	Metrics      []*Metric     `json:"metrics"`
	GoBenchmarks []GoBenchmark `json:"goBenchmarks"`
	Errors       []string      `json:"errors,omitempty"`
}

func newResults() *Results {
	return &Results{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
}

// add records a number.
func (r *Results) add(name, unit string, value float64) *Metric {
	m := &Metric{Name: name, Unit: unit, Value: value}
	r.Metrics = append(r.Metrics, m)
	fmt.Printf("   %-58s %12s %s\n", name, format(value), unit)
	return m
}

// versus sets the peer of a number and their ratio.
func (m *Metric) versus(peer string, value float64) *Metric {
	m.Peer, m.PeerValue = peer, &value
	if value != 0 {
		ratio := m.Value / value
		m.Ratio = &ratio
	}
	return m
}

// atLeast and atMost set a target and whether it is met.
func (m *Metric) atLeast(target string, limit float64) *Metric {
	met := m.Value >= limit
	m.Target, m.Met = target, &met
	return m
}

func (m *Metric) atMost(target string, limit float64) *Metric {
	met := m.Value <= limit
	m.Target, m.Met = target, &met
	return m
}

// ratioAtLeast sets a target on the ratio to the peer.
func (m *Metric) ratioAtLeast(target string, limit float64) *Metric {
	met := m.Ratio != nil && *m.Ratio >= limit
	m.Target, m.Met = target, &met
	return m
}

func (m *Metric) note(format string, args ...any) *Metric {
	m.Note = fmt.Sprintf(format, args...)
	return m
}

// evaluate is where summary checks that span metrics would go; the
// targets are set as the numbers come.
func (r *Results) evaluate() {}

func (r *Results) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nMETRIC\tVALUE\tUNIT\tPEER (same run)\tRATIO\tTARGET\tMET")
	for _, m := range r.Metrics {
		peer, ratio, met := "", "", ""
		if m.PeerValue != nil {
			peer = fmt.Sprintf("%s %s", format(*m.PeerValue), m.Peer)
		}
		if m.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *m.Ratio)
		}
		if m.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*m.Met]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, format(m.Value), m.Unit, peer, ratio, m.Target, met)
	}
	tw.Flush()
	if len(r.GoBenchmarks) > 0 {
		fmt.Fprintln(tw, "\nGO BENCHMARK\tns/op\tB/op\tallocs/op")
		for _, g := range r.GoBenchmarks {
			fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%s\n", shortPackage(g.Package), g.Name, format(g.NsPerOp), format(g.BytesPerOp), format(g.AllocsPerOp))
		}
		tw.Flush()
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR %s\n", e)
	}
}

func shortPackage(p string) string {
	if i := strings.Index(p, "/pkg/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

func format(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e12:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

// percentile of durations in milliseconds (p in [0,100]).
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return ms(s[i])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
