package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

const scaleNS = "bench-scale"

// scaleBenchmarks measure memory with many objects and after a burst, and
// delivery with many unrelated Alerts present.
func (b *bench) scaleBenchmarks(ctx context.Context) error {
	r := b.results
	if err := b.namespace(ctx, scaleNS); err != nil {
		return err
	}
	if _, err := b.createMany(b.big, b.posters, func(ctx context.Context, i int) error {
		p := &v1beta2.Provider{
			ObjectMeta: metav1.ObjectMeta{Name: providerName(i)},
			Spec:       v1beta2.ProviderSpec{Type: "generic", Address: b.sink.URL + "/scale"},
		}
		_, err := b.client.NotificationV1beta2().Providers(scaleNS).Create(ctx, p, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("creating %d Providers: %w", b.big, err)
	}
	if _, err := b.createMany(b.big, b.posters, func(ctx context.Context, i int) error {
		a := &v1beta2.Alert{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("a-%05d", i)},
			Spec: v1beta2.AlertSpec{
				ProviderRef:  v1beta2.LocalObjectReference{Name: providerName(i)},
				EventSources: []v1beta2.CrossNamespaceObjectReference{{Kind: "HelmRelease", Name: fmt.Sprintf("release-%d", i)}},
			},
		}
		_, err := b.client.NotificationV1beta2().Alerts(scaleNS).Create(ctx, a, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("creating %d Alerts: %w", b.big, err)
	}
	if err := b.waitAlertsReady(ctx, scaleNS, b.big); err != nil {
		return fmt.Errorf("the %d Alerts did not become Ready: %w", b.big, err)
	}
	time.Sleep(5 * time.Second)
	rss, err := b.rssMiB("notification-apiserver")
	if err != nil {
		return err
	}
	r.add(fmt.Sprintf("scale.rss with %d Providers and %d Alerts", b.big, b.big), "MiB", rss)

	// The hot path must not scale with all Alerts: the steady run again.
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.posters}, Timeout: 30 * time.Second}
	receiver := func(ctx context.Context, run string, seq int) error {
		return postJSON(ctx, httpClient, b.receiverURL, fluxEvent(deliveryNS, run, seq))
	}
	if err := b.namespace(ctx, deliveryNS); err != nil {
		return err
	}
	if err := b.route(ctx, deliveryNS, "sink", "all", b.sink.URL+"/delivery"); err != nil {
		return err
	}
	if err := b.steady(ctx, fmt.Sprintf("steady-with-%d-alerts", b.big), receiver); err != nil {
		return err
	}

	return nil
}

// burstMemory posts a burst through the receiver and reads the server's
// memory afterwards, before the scale step adds its objects.
func (b *bench) burstMemory(ctx context.Context) error {
	r := b.results
	if err := b.namespace(ctx, deliveryNS); err != nil {
		return err
	}
	if err := b.route(ctx, deliveryNS, "sink", "all", b.sink.URL+"/delivery"); err != nil {
		return err
	}
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.posters}, Timeout: 30 * time.Second}
	receiver := func(ctx context.Context, run string, seq int) error {
		return postJSON(ctx, httpClient, b.receiverURL, fluxEvent(deliveryNS, run, seq))
	}
	// As after the burst: 10 s quiet, the server's idle memory returned.
	time.Sleep(10 * time.Second)
	before, err := b.rssMiB("notification-apiserver")
	if err != nil {
		return err
	}
	res, err := b.burstRun(ctx, "burst", b.burst, receiver, true)
	if err != nil {
		return fmt.Errorf("the %d-event burst: %w", b.burst, err)
	}
	r.add(fmt.Sprintf("burst.rss 10 s quiet before the %d-event burst", b.burst), "MiB", before)
	r.add(fmt.Sprintf("burst.%d events: rate", b.burst), "events/s", res.rate)
	r.add(fmt.Sprintf("burst.%d events: rss max", b.burst), "MiB", res.rssMax)
	time.Sleep(10 * time.Second)
	rss, err := b.rssMiB("notification-apiserver")
	if err != nil {
		return err
	}
	m := r.add(fmt.Sprintf("burst.rss 10 s after a %d-event burst", b.burst), "MiB", rss).atMost("< 150 MiB", 150)
	if b.flux != nil && b.flux.rssBurst > 0 {
		m.versus("Flux's controller, this run", b.flux.rssBurst)
	}
	if anon, err := b.anonMiB("notification-apiserver"); err == nil {
		r.add(fmt.Sprintf("burst.rss anonymous 10 s after a %d-event burst", b.burst), "MiB", anon)
	}
	if res.lost > 0 {
		r.Errors = append(r.Errors, fmt.Sprintf("burst: %d accepted events never arrived", res.lost))
	}
	return nil
}
