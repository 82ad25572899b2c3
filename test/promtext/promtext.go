// Package promtext reads samples from the Prometheus text format that a
// server's /metrics answers, for the tests.
package promtext

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Sum adds the values of every sample of the metric name whose labels
// include each of match (as written in the text, e.g. `code="201"`), in
// text. A metric with no such sample sums to 0.
func Sum(text, name string, match ...string) (float64, error) {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		if len(match) > 0 {
			labels, _, _ := strings.Cut(strings.TrimPrefix(rest, "{"), "} ")
			if rest[0] != '{' || !hasLabels(labels, match) {
				continue
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", line, err)
		}
		sum += v
	}
	return sum, nil
}

// Bucket is one cumulative bucket of a histogram: Count samples were at
// most Le.
type Bucket struct {
	Le    float64
	Count float64
}

// Histogram reads the buckets of the histogram name whose labels include
// match (as written in the text, e.g. `write="create"`; "" for any), in
// the order of the text: ascending Le, +Inf last.
func Histogram(text, name, match string) ([]Bucket, error) {
	var out []Bucket
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name+"_bucket{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok || (match != "" && !hasLabels(labels, []string{match})) {
			continue
		}
		_, le, ok := strings.Cut(labels, `le="`)
		if !ok {
			return nil, fmt.Errorf("%q: a bucket without le", line)
		}
		le, _, _ = strings.Cut(le, `"`)
		b := Bucket{}
		var err error
		if b.Le, err = strconv.ParseFloat(le, 64); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		if b.Count, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return nil, fmt.Errorf("%q: %w", line, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// hasLabels: labels (name="value" pairs, comma-separated) include each of
// match.
func hasLabels(labels string, match []string) bool {
	have := strings.Split(labels, ",")
	for _, m := range match {
		if !slices.Contains(have, m) {
			return false
		}
	}
	return true
}

// Since is what a histogram counted between two reads of it: after minus
// before, bucket by bucket (before may be empty: nothing counted yet).
func Since(before, after []Bucket) []Bucket {
	out := make([]Bucket, len(after))
	for i, b := range after {
		out[i] = b
		if i < len(before) && before[i].Le == b.Le {
			out[i].Count -= before[i].Count
		}
	}
	return out
}

// Quantile estimates the q-quantile (0 < q <= 1) of the samples counted in
// buckets as Prometheus's histogram_quantile does: linearly within the
// bucket it falls in, from 0 for the first; in the +Inf bucket it is the
// highest finite bound. NaN when nothing was counted.
func Quantile(q float64, buckets []Bucket) float64 {
	if len(buckets) == 0 || buckets[len(buckets)-1].Count == 0 {
		return math.NaN()
	}
	rank := q * buckets[len(buckets)-1].Count
	lower, below := 0.0, 0.0
	for _, b := range buckets {
		if b.Count >= rank {
			if math.IsInf(b.Le, 1) {
				return lower
			}
			return lower + (b.Le-lower)*(rank-below)/(b.Count-below)
		}
		lower, below = b.Le, b.Count
	}
	return lower
}

// Over is how many of the samples counted in buckets were over le, which
// must be a bucket's bound. NaN when le is not one.
func Over(le float64, buckets []Bucket) float64 {
	if len(buckets) == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].Count
	for _, b := range buckets {
		if b.Le == le {
			return total - b.Count
		}
	}
	return math.NaN()
}

// Above is the share (0 to 1) of the samples counted in buckets that were
// over le, which must be a bucket's bound. NaN when nothing was counted.
func Above(le float64, buckets []Bucket) float64 {
	if len(buckets) == 0 || buckets[len(buckets)-1].Count == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].Count
	for _, b := range buckets {
		if b.Le == le {
			return (total - b.Count) / total
		}
	}
	return math.NaN()
}
