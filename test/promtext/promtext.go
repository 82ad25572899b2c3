// Package promtext reads samples from the Prometheus text format that a
// server's /metrics answers, for the tests.
package promtext

import (
	"fmt"
	"strconv"
	"strings"
)

// Sum adds the values of every sample of the metric name, whatever its
// labels, in text. A metric with no sample sums to 0.
func Sum(text, name string) (float64, error) {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", line, err)
		}
		sum += v
	}
	return sum, nil
}
