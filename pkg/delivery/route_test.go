package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// newRouter returns a dispatcher whose Alert cache holds alerts.
func newRouter(tb testing.TB, alerts []*v1beta2.Alert) *Dispatcher {
	tb.Helper()
	return newCachedDispatcher(tb, alerts, nil, nil)
}

// unrelatedAlerts are n Alerts that no event of a Kustomization in apps
// matches: other namespaces, or other kinds in apps.
func unrelatedAlerts(n int) []*v1beta2.Alert {
	kinds := []string{"HelmRelease", "GitRepository", "OCIRepository", "Kustomization"}
	out := make([]*v1beta2.Alert, 0, n)
	for i := range n {
		a := alert(nil)
		a.Name = fmt.Sprintf("unrelated-%d", i)
		a.Namespace = fmt.Sprintf("team-%d", i%500)
		a.Spec.EventSources[0].Kind = kinds[i%len(kinds)]
		if i%10 == 0 { // in apps, but never a Kustomization
			a.Namespace = "apps"
			a.Spec.EventSources[0].Kind = kinds[i%3]
		}
		out = append(out, a)
	}
	return out
}

func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			alerts := append(unrelatedAlerts(n), alert(nil))
			d := newRouter(b, alerts)
			e := event("info", "reconciliation succeeded")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e.Status = v1beta2.EventStatus{}
				d.route(ctx, e)
			}
			if len(e.Status.Deliveries) != 1 {
				b.Fatalf("deliveries %+v, want one", e.Status.Deliveries)
			}
		})
	}
}

func TestAnEventAmongTenThousandUnrelatedAlertsRoutesToTheOneItMatches(t *testing.T) {
	match := alert(nil)
	match.Name = "the-one"
	d := newRouter(t, append(unrelatedAlerts(10000), match))
	e := event("info", "reconciliation succeeded")
	d.route(context.Background(), e)
	want := []v1beta2.Delivery{{Alert: "the-one", Provider: "p", State: Pending}}
	if !reflect.DeepEqual(e.Status.Deliveries, want) {
		t.Errorf("deliveries %+v, want %+v", e.Status.Deliveries, want)
	}
}

func TestAnAlertWithTwoSourcesOfTheEventsKeyIsACandidateOnce(t *testing.T) {
	a := alert(func(a *v1beta2.Alert) {
		a.Spec.EventSources = append(a.Spec.EventSources,
			v1beta2.CrossNamespaceObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "webapp"})
	})
	d := newRouter(t, []*v1beta2.Alert{a})
	e := event("info", "m")
	d.route(context.Background(), e)
	if len(e.Status.Deliveries) != 1 {
		t.Errorf("deliveries %+v, want one", e.Status.Deliveries)
	}
}

// routeByListingAll is how route chose Alerts before the index: every
// Alert through the Matcher, compiling its expressions anew, here in the
// index's order.
func routeByListingAll(d *Dispatcher, e *v1beta2.Event) ([]v1beta2.Delivery, []string) {
	all, _ := d.alerts.List(labels.Everything())
	slices.SortFunc(all, compareAlerts)
	matcher := d.opts.Matcher
	matcher.regexps = nil
	var deliveries []v1beta2.Delivery
	var problems []string
	for _, a := range all {
		ok, err := matcher.Match(context.Background(), e, a)
		if err != nil {
			problems = append(problems, fmt.Sprintf("Alert %s/%s: %v", a.Namespace, a.Name, err))
		}
		if !ok {
			continue
		}
		name := a.Name
		if a.Namespace != e.Namespace {
			name = a.Namespace + "/" + a.Name
		}
		deliveries = append(deliveries, v1beta2.Delivery{Alert: name, Provider: a.Spec.ProviderRef.Name, State: Pending})
	}
	return deliveries, problems
}

// randomAlert draws from a small space so that matches, near misses,
// label selectors, unreadable labels and bad regexps all occur.
func randomAlert(r *rand.Rand, i int) *v1beta2.Alert {
	pick := func(options ...string) string { return options[r.IntN(len(options))] }
	a := &v1beta2.Alert{
		ObjectMeta: metav1.ObjectMeta{Namespace: pick("apps", "infra", "flux-system"), Name: fmt.Sprintf("a%d", i)},
		Spec: v1beta2.AlertSpec{
			ProviderRef:   v1beta2.LocalObjectReference{Name: pick("p", "q")},
			EventSeverity: pick("info", "error"),
			Suspend:       r.IntN(10) == 0,
		},
	}
	for range 1 + r.IntN(3) {
		src := v1beta2.CrossNamespaceObjectReference{
			Kind:      pick("Kustomization", "HelmRelease", "GitRepository"),
			Namespace: pick("", "", "apps", "infra"),
			Name:      pick("*", "webapp", "db"),
		}
		if r.IntN(4) == 0 {
			src.MatchLabels = map[string]string{"tier": pick("web", "data")}
		}
		a.Spec.EventSources = append(a.Spec.EventSources, src)
	}
	if r.IntN(5) == 0 {
		a.Spec.InclusionList = []string{pick("fail", "succe", "(")}
	}
	if r.IntN(5) == 0 {
		a.Spec.ExclusionList = []string{pick("fail", "[")}
	}
	return a
}

func randomEvent(r *rand.Rand) *v1beta2.Event {
	pick := func(options ...string) string { return options[r.IntN(len(options))] }
	e := event(pick("info", "error"), pick("reconciliation failed", "reconciliation succeeded"))
	e.Namespace = pick("apps", "infra")
	e.InvolvedObject.Namespace = e.Namespace
	e.InvolvedObject.Kind = pick("Kustomization", "HelmRelease", "GitRepository", "Bucket")
	e.InvolvedObject.Name = pick("webapp", "db", "cache")
	return e
}

func TestTheIndexAndCompiledExpressionsRouteLikeListingEveryAlert(t *testing.T) {
	objectLabels := func(_ context.Context, io v1beta2.ObjectReference) (map[string]string, error) {
		switch io.Name {
		case "webapp":
			return map[string]string{"tier": "web"}, nil
		case "db":
			return map[string]string{"tier": "data"}, nil
		}
		return nil, errors.New("not found")
	}
	tests := []struct {
		name    string
		matcher Matcher
	}{
		{"with cross-namespace sources", Matcher{Labels: objectLabels}},
		{"without cross-namespace sources", Matcher{Labels: objectLabels, NoCrossNamespaceRefs: true}},
		{"without a way to read labels", Matcher{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			for round := range 20 {
				alerts := make([]*v1beta2.Alert, 30+r.IntN(100))
				for i := range alerts {
					alerts[i] = randomAlert(r, i)
				}
				d := newRouter(t, alerts)
				d.opts.Matcher.Labels = tc.matcher.Labels
				d.opts.Matcher.NoCrossNamespaceRefs = tc.matcher.NoCrossNamespaceRefs
				for range 50 {
					e := randomEvent(r)
					wantDeliveries, wantProblems := routeByListingAll(d, e)
					d.route(context.Background(), e)
					if !reflect.DeepEqual(e.Status.Deliveries, wantDeliveries) {
						t.Fatalf("round %d, event %+v: deliveries %+v, want %+v", round, e.InvolvedObject, e.Status.Deliveries, wantDeliveries)
					}
					if len(wantDeliveries) == 0 {
						want := "no Alert matched"
						if len(wantProblems) > 0 {
							want += "; " + strings.Join(wantProblems, "; ")
						}
						if len(want) > 1000 {
							want = want[:1000]
						}
						if e.Status.Message != want {
							t.Fatalf("round %d: message %q, want %q", round, e.Status.Message, want)
						}
					}
				}
			}
		})
	}
}

// BenchmarkRouteWithRegexps routes an event through an Alert that
// filters messages, as Alerts that silence noisy reconciliations do.
func BenchmarkRouteWithRegexps(b *testing.B) {
	a := alert(func(a *v1beta2.Alert) {
		a.Spec.InclusionList = []string{`^Kustomization/.+ (created|configured|deleted)`, `health check (failed|passed)`, `.*revision.*`}
		a.Spec.ExclusionList = []string{`^Dependencies do not meet ready condition`, `(?i)no changes`, `unchanged$`}
	})
	d := newRouter(b, []*v1beta2.Alert{a})
	e := event("info", "Kustomization/apps/webapp configured\nhealth check passed in 2s, revision main@sha1:4f1e2c3b")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e.Status = v1beta2.EventStatus{}
		d.route(ctx, e)
	}
	if len(e.Status.Deliveries) != 1 {
		b.Fatalf("deliveries %+v, want one", e.Status.Deliveries)
	}
}

// An Event is stored routed by its create only where no Alert has a
// source of its object's namespace and kind, and only once the Alerts are
// all known: a suspended Alert, or one of another namespace with a source
// there, leaves it to the loop, which says why.
func TestNoAlertCanMatchOnlyWhereNoAlertHasASourceOfTheKindAndNamespace(t *testing.T) {
	d := newRouter(t, []*v1beta2.Alert{
		alert(nil), // apps: Kustomization
		alert(func(a *v1beta2.Alert) {
			a.Name, a.Spec.Suspend, a.Spec.EventSources[0].Kind = "suspended", true, "HelmRelease"
		}),
		alert(func(a *v1beta2.Alert) {
			a.Namespace, a.Name = "ops", "cross"
			a.Spec.EventSources[0].Kind, a.Spec.EventSources[0].Namespace = "GitRepository", "apps"
		}),
	})
	if d.NoAlertCanMatch("apps", "OCIRepository") {
		t.Error("NoAlertCanMatch before the Alerts are all known")
	}
	d.alertsSynced = func() bool { return true }
	for _, tc := range []struct {
		namespace, kind string
		want            bool
	}{
		{"apps", "Kustomization", false},
		{"apps", "HelmRelease", false},
		{"apps", "GitRepository", false},
		{"ops", "GitRepository", true},
		{"apps", "OCIRepository", true},
		{"other", "Kustomization", true},
	} {
		if got := d.NoAlertCanMatch(tc.namespace, tc.kind); got != tc.want {
			t.Errorf("NoAlertCanMatch(%s, %s) = %v, want %v", tc.namespace, tc.kind, got, tc.want)
		}
	}
}
