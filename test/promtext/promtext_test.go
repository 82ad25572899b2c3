package promtext

import "testing"

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
