package event

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	batchItems = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      "notification",
		Name:           "event_batch_items",
		Help:           "Events per etcd transaction, by what it writes: create (EventBatches) or status (the delivery loop's records).",
		Buckets:        []float64{1, 2, 4, 8, 16, 32, 64, 100},
		StabilityLevel: metrics.ALPHA,
	}, []string{"write"})
	// The steady delivery's p99 is bounded below by this: an Event is
	// answered only once its transaction is durable.
	writeDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      "notification",
		Name:           "event_write_duration_seconds",
		Help:           "Time of the etcd transactions that write Events, by what they write: create (EventBatches and single creates) or status (the delivery loop's records).",
		Buckets:        []float64{0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		StabilityLevel: metrics.ALPHA,
	}, []string{"write"})
	// Each write of an Event is decoded once for all the watches that get
	// it (watchdecode.go): "decoded" counts the decodes, "copied" the
	// watches that got a copy instead, "written" the writes the Writer
	// gave as written (the watches copy them, none decodes them), and
	// "written-differed" the one whose difference from its decode turned
	// that off.
	watchDecodeCount = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "notification",
		Name:           "event_watch_decodes_total",
		Help:           "Events read by the watches of Events, by how: decoded from etcd's bytes, or copied from the decode of the same bytes for another watch or from what this server wrote (written); written-differed counts a write that differed from its decode, which turns the latter off.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	registerMetrics sync.Once
)

func init() {
	registerMetrics.Do(func() {
		legacyregistry.MustRegister(batchItems, writeDuration, watchDecodeCount)
	})
}
