package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

const fanoutNS = "bench-fanout"

// fanOut times one event that matches 100 Alerts, each with its Provider,
// until all 100 deliveries arrived.
func (b *bench) fanOut(ctx context.Context) error {
	const n = 100
	if err := b.namespace(ctx, fanoutNS); err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("fan-%03d", i)
		p := &v1beta2.Provider{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       v1beta2.ProviderSpec{Type: "generic", Address: fmt.Sprintf("%s/fanout/%d", b.sink.URL, i)},
		}
		if err := b.ensureProvider(ctx, fanoutNS, p); err != nil {
			return err
		}
		a := &v1beta2.Alert{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1beta2.AlertSpec{
				ProviderRef:  v1beta2.LocalObjectReference{Name: name},
				EventSources: []v1beta2.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
			},
		}
		if _, err := b.client.NotificationV1beta2().Alerts(fanoutNS).Create(ctx, a, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	if err := b.waitAlertsReady(ctx, fanoutNS, n); err != nil {
		return fmt.Errorf("the %d Alerts did not become Ready: %w", n, err)
	}
	var times []time.Duration
	c := &http.Client{Timeout: 30 * time.Second}
	for round := range 5 {
		run := fmt.Sprintf("fanout%d-%d", time.Now().UnixNano(), round)
		t0 := time.Now()
		if err := postJSON(ctx, c, b.receiverURL, fluxEvent(fanoutNS, run, 0)); err != nil {
			return err
		}
		arrivals, _ := b.sink.wait(run, n, time.Minute)
		if len(arrivals) < n {
			return fmt.Errorf("round %d: %d of %d deliveries arrived", round, len(arrivals), n)
		}
		var last time.Time
		for _, t := range arrivals {
			if t.After(last) {
				last = t
			}
		}
		times = append(times, last.Sub(t0))
	}
	b.results.add("fanout.100.p50 (one event, 100 Alerts, until all delivered)", "ms", percentile(times, 50))
	b.results.add("fanout.100.max", "ms", percentile(times, 100))
	return nil
}
