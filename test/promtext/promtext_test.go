package promtext

import (
	"math"
	"reflect"
	"testing"
)

func TestSumAddsEverySampleOfTheMetricOnly(t *testing.T) {
	text := `# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{code="201"} 7
requests_total{code="403"} 2
requests_total_other 100
requests 50
other{code="201"} 9
`
	if got, err := Sum(text, "requests_total"); err != nil || got != 9 {
		t.Errorf("Sum = %v, %v; want 9", got, err)
	}
	if got, err := Sum(text, "requests"); err != nil || got != 50 {
		t.Errorf("Sum of an unlabelled metric = %v, %v; want 50", got, err)
	}
	if got, err := Sum(text, "absent"); err != nil || got != 0 {
		t.Errorf("Sum of an absent metric = %v, %v; want 0", got, err)
	}
	if _, err := Sum("requests_total{code=\"201\"} seven\n", "requests_total"); err == nil {
		t.Error("a value that is no number was summed")
	}
}

const histogramText = `# TYPE write_seconds histogram
write_seconds_bucket{write="create",le="0.001"} 50
write_seconds_bucket{write="create",le="0.005"} 90
write_seconds_bucket{write="create",le="0.01"} 98
write_seconds_bucket{write="create",le="+Inf"} 100
write_seconds_sum{write="create"} 0.4
write_seconds_count{write="create"} 100
write_seconds_bucket{write="status",le="0.001"} 7
write_seconds_bucket{write="status",le="0.005"} 7
write_seconds_bucket{write="status",le="0.01"} 7
write_seconds_bucket{write="status",le="+Inf"} 7
write_seconds_other_bucket{write="create",le="0.001"} 1000
`

func TestHistogramReadsTheBucketsOfTheLabelledSeriesOnly(t *testing.T) {
	got, err := Histogram(histogramText, "write_seconds", `write="create"`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Bucket{{0.001, 50}, {0.005, 90}, {0.01, 98}, {math.Inf(1), 100}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Histogram = %v, want %v", got, want)
	}
	if _, err := Histogram(`write_seconds_bucket{le="x"} 1`+"\n", "write_seconds", ""); err == nil {
		t.Error("a bound that is no number was read")
	}
}

func TestQuantileInterpolatesWithinTheBucketAsPrometheusDoes(t *testing.T) {
	before := []Bucket{{0.001, 10}, {0.005, 10}, {0.01, 10}, {math.Inf(1), 10}}
	after, _ := Histogram(histogramText, "write_seconds", `write="create"`)
	counted := Since(before, after) // 40, 80, 88, 90
	for _, c := range []struct{ q, want float64 }{
		{0.25, 0.0005625}, // rank 22.5: 22.5 of the 40 in (0, 1 ms]
		{0.5, 0.0015},     // rank 45: 5 of the 40 in (1, 5 ms]
		{0.9, 0.005625},   // rank 81: 1 of the 8 in (5, 10 ms]
		{0.99, 0.01},      // rank 89.1: in +Inf, the highest finite bound
	} {
		if got := Quantile(c.q, counted); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Above(0.005, counted); math.Abs(got-10.0/90) > 1e-9 {
		t.Errorf("Above(5 ms) = %v, want %v", got, 10.0/90)
	}
	if got := Over(0.005, counted); got != 10 {
		t.Errorf("Over(5 ms) = %v, want 10", got)
	}
	if got := Over(0.002, counted); !math.IsNaN(got) {
		t.Errorf("Over a bound that is no bucket's = %v, want NaN", got)
	}
	if got := Quantile(0.5, Since(after, after)); !math.IsNaN(got) {
		t.Errorf("Quantile of nothing counted = %v, want NaN", got)
	}
}

func TestSumWithLabelsAddsTheMatchingSamplesOnly(t *testing.T) {
	text := `requests_total{code="201",resource="eventbatches",verb="POST"} 7
requests_total{code="400",resource="eventbatches",verb="POST"} 2
requests_total{code="201",resource="events",verb="POST"} 5
requests_total 3
`
	for _, c := range []struct {
		match []string
		want  float64
	}{
		{[]string{`resource="eventbatches"`}, 9},
		{[]string{`resource="eventbatches"`, `code="201"`}, 7},
		{[]string{`code="201"`}, 12},
		{[]string{`resource="alerts"`}, 0},
	} {
		if got, err := Sum(text, "requests_total", c.match...); err != nil || got != c.want {
			t.Errorf("Sum(%v) = %v, %v; want %v", c.match, got, err, c.want)
		}
	}
}
