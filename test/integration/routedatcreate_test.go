package integration

import (
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// TestAnEventNoAlertCanTakeIsStoredRoutedByItsCreate: an Event of an
// object that no Alert has a source for (its namespace and kind) is stored
// routed, "no Alert matched", by its create, alone or in a batch, and the
// delivery loop writes nothing more of it; a dry run answers the same and
// counts nothing. An Event an Alert could take is routed and delivered by
// the loop, as before.
func TestAnEventNoAlertCanTakeIsStoredRoutedByItsCreate(t *testing.T) {
	ns := "routed-at-create"
	rcv := &webhookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	setupRoute(t, ns, srv.URL, nil) // an Alert for the HelmReleases of ns
	hc, err := rest.HTTPClientFor(clientConfig)
	if err != nil {
		t.Fatal(err)
	}
	unmatchedRouted := func() float64 {
		t.Helper()
		return metricSum(t, hc, "notification_events_routed_total", `matched="false"`)
	}
	events := client.NotificationV1beta2().Events(ns)
	before := unmatchedRouted()
	unmatched := func(message string) *v1beta2.Event {
		e := newEvent(ns, message)
		e.InvolvedObject.APIVersion, e.InvolvedObject.Kind = "source.toolkit.fluxcd.io/v1", "GitRepository"
		return e
	}
	routedByCreate := func(what string, e *v1beta2.Event) {
		t.Helper()
		if e.Status.RoutedAt == nil || e.Status.Message != "no Alert matched" || len(e.Status.Deliveries) != 0 {
			t.Errorf("%s: status %+v, want routed to no Alert", what, e.Status)
		}
	}

	dry, err := events.Create(t.Context(), unmatched("a dry run"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	routedByCreate("the dry run's answer", dry)
	created, err := events.Create(t.Context(), unmatched("nobody listens"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	routedByCreate("the create's answer", created)
	batch := &v1beta2.EventBatch{Items: []v1beta2.Event{*unmatched("nobody listens to the batch")}}
	answer, err := client.NotificationV1beta2().EventBatches(ns).Create(t.Context(), batch, metav1.CreateOptions{})
	if err != nil || len(answer.Results) != 1 || answer.Results[0].Code != 201 {
		t.Fatalf("the batch: %+v %v", answer, err)
	}
	inBatch, err := events.Get(t.Context(), answer.Results[0].Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	routedByCreate("the batch's item", inBatch)

	// An Event the Alert takes, created after them, is routed and
	// delivered by the loop; by then it has written nothing of the others.
	matched, err := events.Create(t.Context(), newEvent(ns, "somebody listens"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if matched.Status.RoutedAt != nil {
		t.Errorf("an Event the Alert may take was stored routed: %+v", matched.Status)
	}
	waitDelivery(t, ns, matched.Name, "Delivered")
	for _, e := range []*v1beta2.Event{created, inBatch} {
		now, err := events.Get(t.Context(), e.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if now.ResourceVersion != e.ResourceVersion {
			t.Errorf("%s was written again after its create: %+v", e.Name, now.Status)
		}
	}
	if got := unmatchedRouted() - before; got != 2 {
		t.Errorf(`notification_events_routed_total{matched="false"} grew by %v, want 2 (the create and the batch's item, not the dry run)`, got)
	}
}
