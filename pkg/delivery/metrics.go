package delivery

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	// Registers the work queues' depth, latency and retries on /metrics,
	// the events queue among them (name="events").
	_ "k8s.io/component-base/metrics/prometheus/workqueue"
)

var (
	deliveries = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "notification",
		Name:           "deliveries_total",
		Help:           "Delivery attempts by provider type and outcome: delivered, retry, failed, skipped.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"type", "outcome"})
	deliveryDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      "notification",
		Name:           "delivery_duration_seconds",
		Help:           "Time to post an event to a receiver, by provider type.",
		Buckets:        []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		StabilityLevel: metrics.ALPHA,
	}, []string{"type"})
	routed = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "notification",
		Name:           "events_routed_total",
		Help:           "Events routed, by whether any Alert matched.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"matched"})
	pendingEvents = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "notification",
		Name:           "events_pending",
		Help:           "Events awaiting delivery (not routed yet, or a delivery pending), as this replica sees them.",
		StabilityLevel: metrics.ALPHA,
	})
	registerMetrics sync.Once
)

func init() {
	registerMetrics.Do(func() {
		legacyregistry.MustRegister(deliveries, deliveryDuration, routed, pendingEvents)
	})
}
