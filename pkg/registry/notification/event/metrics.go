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
	registerMetrics sync.Once
)

func init() {
	registerMetrics.Do(func() {
		legacyregistry.MustRegister(batchItems)
	})
}
