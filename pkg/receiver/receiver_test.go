package receiver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestMissingFieldsAreNamedInOrder(t *testing.T) {
	var complete fluxEvent
	complete.InvolvedObject.Kind, complete.InvolvedObject.Name, complete.InvolvedObject.Namespace = "Kustomization", "app", "apps"
	complete.Severity, complete.Message, complete.Reason, complete.ReportingController = "info", "done", "Succeeded", "kustomize-controller"
	onlySeverity := fluxEvent{Severity: "info"}
	for name, tc := range map[string]struct {
		event *fluxEvent
		want  []string
	}{
		"a complete event lacks nothing": {&complete, nil},
		"an event with only a severity lacks the rest, sorted": {&onlySeverity, []string{
			"involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "message", "reason", "reportingController"}},
		"an empty event lacks all seven": {&fluxEvent{}, []string{
			"involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "message", "reason", "reportingController", "severity"}},
	} {
		if got := missingFields(tc.event); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
	}
	if !slices.IsSorted(missingFields(&fluxEvent{})) {
		t.Error("the names are not in order")
	}
	if n := testing.AllocsPerRun(100, func() { missingFields(&complete) }); n != 0 {
		t.Errorf("checking a complete event allocated %v times", n)
	}
}

func TestBodyPoolReadsWholeBodiesAndOneByteTooMany(t *testing.T) {
	var p bodyPool
	for name, tc := range map[string]struct {
		body          string
		contentLength int64
		want          int
	}{
		"an event":                          {`{"message":"hi"}`, 16, 16},
		"an event of unknown length":        {`{"message":"hi"}`, -1, 16},
		"a body longer than it said":        {strings.Repeat("a", 2000), 10, 2000},
		"a body past the limit is cut just": {strings.Repeat("a", MaxBodyBytes+100), MaxBodyBytes + 100, MaxBodyBytes + 1},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		r.ContentLength = tc.contentLength
		buf, err := p.Read(r)
		if err != nil || buf.Len() != tc.want || !strings.HasPrefix(tc.body, buf.String()) {
			t.Errorf("%s: read %d bytes (%v), want %d", name, buf.Len(), err, tc.want)
		}
		p.Put(buf)
	}
}

func TestBodyPoolKeepsOnlySmallBuffers(t *testing.T) {
	var p bodyPool
	large := bytes.NewBuffer(make([]byte, 0, maxPooledBody+1))
	p.Put(large)
	for range 10 {
		if got, _ := p.pool.Get().(*bytes.Buffer); got == large {
			t.Fatal("a large buffer was kept")
		}
	}
}
