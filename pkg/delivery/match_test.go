package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func event(severity, message string) *v1beta2.Event {
	return &v1beta2.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "e"},
		InvolvedObject: v1beta2.ObjectReference{
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "webapp", Namespace: "apps",
		},
		Severity: severity, Timestamp: metav1.NewTime(time.Now()), Message: message, Reason: "Reason",
		ReportingController: "kustomize-controller",
	}
}

func alert(mutate func(*v1beta2.Alert)) *v1beta2.Alert {
	a := &v1beta2.Alert{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "a"},
		Spec: v1beta2.AlertSpec{
			ProviderRef:   v1beta2.LocalObjectReference{Name: "p"},
			EventSeverity: "info",
			EventSources:  []v1beta2.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
		},
	}
	if mutate != nil {
		mutate(a)
	}
	return a
}

func TestMatch(t *testing.T) {
	labels := func(_ context.Context, io v1beta2.ObjectReference) (map[string]string, error) {
		if io.Name == "webapp" {
			return map[string]string{"tier": "web", "team": "a"}, nil
		}
		return nil, errors.New("not found")
	}
	tests := []struct {
		name    string
		event   *v1beta2.Event
		alert   *v1beta2.Alert
		want    bool
		wantErr bool
	}{
		{"a wildcard source in the Alert's namespace", event("info", "m"), alert(nil), true, false},
		{"the exact name", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSources[0].Name = "webapp" }), true, false},
		{"another name", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSources[0].Name = "other" }), false, false},
		{"another kind", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSources[0].Kind = "HelmRelease" }), false, false},
		{"the kind is case sensitive", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSources[0].Kind = "kustomization" }), false, false},
		{"the source namespace defaults to the Alert's", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Namespace = "other" }), false, false},
		{"an explicit source namespace", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Namespace = "other"; a.Spec.EventSources[0].Namespace = "apps" }), true, false},
		{"info takes errors", event("error", "m"), alert(nil), true, false},
		{"error takes errors", event("error", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSeverity = "error" }), true, false},
		{"error drops info", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSeverity = "error" }), false, false},
		{"a suspended Alert takes nothing", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.Suspend = true }), false, false},
		{"any source may match", event("info", "m"), alert(func(a *v1beta2.Alert) {
			a.Spec.EventSources = []v1beta2.CrossNamespaceObjectReference{{Kind: "HelmRelease", Name: "*"}, {Kind: "Kustomization", Name: "webapp"}}
		}), true, false},
		{"inclusion matches", event("info", "Applied revision main"), alert(func(a *v1beta2.Alert) { a.Spec.InclusionList = []string{"^Applied"} }), true, false},
		{"inclusion does not match", event("info", "Health check failed"), alert(func(a *v1beta2.Alert) { a.Spec.InclusionList = []string{"^Applied"} }), false, false},
		{"exclusion wins over inclusion", event("info", "Applied revision main"), alert(func(a *v1beta2.Alert) {
			a.Spec.InclusionList = []string{"^Applied"}
			a.Spec.ExclusionList = []string{"revision main$"}
		}), false, false},
		{"a bad regexp matches nothing and says so", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.ExclusionList = []string{"("} }), false, true},
		{"matching labels", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSources[0].MatchLabels = map[string]string{"tier": "web"} }), true, false},
		{"other labels", event("info", "m"), alert(func(a *v1beta2.Alert) { a.Spec.EventSources[0].MatchLabels = map[string]string{"tier": "db"} }), false, false},
		{"unreadable labels match nothing and say so", func() *v1beta2.Event { e := event("info", "m"); e.InvolvedObject.Name = "gone"; return e }(),
			alert(func(a *v1beta2.Alert) { a.Spec.EventSources[0].MatchLabels = map[string]string{"tier": "web"} }), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Matcher{Labels: labels}.Match(context.Background(), tc.event, tc.alert)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("match %v err %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNoCrossNamespaceRefs(t *testing.T) {
	a := alert(func(a *v1beta2.Alert) { a.Namespace = "other"; a.Spec.EventSources[0].Namespace = "apps" })
	ok, err := (Matcher{NoCrossNamespaceRefs: true}).Match(context.Background(), event("info", "m"), a)
	if ok {
		t.Error("a cross-namespace source matched with --no-cross-namespace-refs")
	}
	if err == nil || !strings.Contains(err.Error(), "cross-namespace references have been blocked") {
		t.Errorf("err %v, want the block explained", err)
	}
	if ok, err := (Matcher{}).Match(context.Background(), event("info", "m"), a); !ok || err != nil {
		t.Errorf("without the flag: match %v, err %v", ok, err)
	}
}

func TestNoCrossNamespaceRefsIsSilentForSourcesThatWouldNotMatch(t *testing.T) {
	a := alert(func(a *v1beta2.Alert) {
		a.Namespace = "other"
		a.Spec.EventSources[0].Namespace = "apps"
		a.Spec.EventSources[0].Name = "another-app"
	})
	if ok, err := (Matcher{NoCrossNamespaceRefs: true}).Match(context.Background(), event("info", "m"), a); ok || err != nil {
		t.Errorf("match %v, err %v; want no match and nothing to say", ok, err)
	}
}

func TestMergeMetadata(t *testing.T) {
	e := event("info", "m")
	e.EventMetadata = map[string]string{
		"event.toolkit.fluxcd.io/cluster":        "from-annotation",
		"event.toolkit.fluxcd.io/env":            "annotation-env",
		"kustomize.toolkit.fluxcd.io/revision":   "main@sha1:abc",
		"kustomize.toolkit.fluxcd.io/token":      "dropped",
		"kustomize.toolkit.fluxcd.io/cluster":    "from-controller",
		"kustomize.toolkit.fluxcd.io/env-region": "eu",
	}
	a := alert(func(a *v1beta2.Alert) {
		a.Spec.Summary = "prod"
		a.Spec.EventMetadata = map[string]string{"env": "from-alert", "summary": "overridden-by-summary"}
	})
	got := MergeMetadata(e, a)
	want := map[string]string{"cluster": "from-controller", "env": "from-alert", "revision": "main@sha1:abc", "summary": "prod", "env-region": "eu"}
	if len(got) != len(want) {
		t.Fatalf("merged %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (merged %v)", k, got[k], v, got)
		}
	}
	if MergeMetadata(event("info", "m"), alert(nil)) != nil {
		t.Error("no metadata merged into something")
	}
}

// TestCatastrophicRegexpsRunInLinearTime: Go's RE2 engine has no
// backtracking, so a pattern that takes exponential time in backtracking
// engines matches a 1 MiB message in one pass (this test would hang for
// hours otherwise).
func TestCatastrophicRegexpsRunInLinearTime(t *testing.T) {
	message := strings.Repeat("a", 1<<20) + "!"
	a := alert(func(a *v1beta2.Alert) {
		a.Spec.InclusionList = []string{`^(a+)+$`, `(a|aa)+b`, `(a*)*c`}
	})
	ok, err := Matcher{}.Match(context.Background(), event("info", message), a)
	if err != nil || ok {
		t.Errorf("match %v, err %v; want no match", ok, err)
	}
}

func TestCompiledExpressionsAreKeptOnlyWhenTheyCompile(t *testing.T) {
	r := newRegexps()
	first, err := r.compile("fail(ed|ure)")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.compile("fail(ed|ure)"); again != first {
		t.Error("an expression was compiled twice")
	}
	if _, err := r.compile("fail("); err == nil {
		t.Error("an expression that does not compile gave no error")
	}
	if _, kept := r.compiled["fail("]; kept {
		t.Error("an expression that does not compile was kept")
	}
	for i := range maxRegexps + 10 {
		if _, err := r.compile(fmt.Sprintf("e%d", i)); err != nil {
			t.Fatal(err)
		}
		if len(r.compiled) > maxRegexps {
			t.Fatalf("%d expressions kept, want at most %d", len(r.compiled), maxRegexps)
		}
	}
}
