package main

import (
	"math"
	"testing"
)

func TestAroundRate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n1, n2 int
		r1, r2 float64
		want   float64
	}{
		// 2,000 events in 1 s, then 2,000 in 0.5 s: 4,000 in 1.5 s, not
		// the mean of the rates (3,000/s).
		{"all events over all time", 2000, 2000, 2000, 4000, 4000 / 1.5},
		{"equal rates", 1000, 3000, 2500, 2500, 2500},
		{"uneven halves", 1000, 3000, 1000, 3000, 4000 / 2.0},
		{"a failed burst", 2000, 2000, 0, 3000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := aroundRate(tc.n1, tc.r1, tc.n2, tc.r2); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("aroundRate(%d, %v, %d, %v) = %v, want %v", tc.n1, tc.r1, tc.n2, tc.r2, got, tc.want)
			}
		})
	}
}
