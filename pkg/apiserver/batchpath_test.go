package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/registry/rest"
	componenttracing "k8s.io/component-base/tracing"
)

// TestTheBatchPathTakesOnlyPlainProtobufCreates: anything the batch path
// does not do as the full chain does goes to the full chain.
func TestTheBatchPathTakesOnlyPlainProtobufCreates(t *testing.T) {
	const url = "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/eventbatches"
	request := func(method, url string, header ...string) *http.Request {
		return newRequest(method, url, nil, append([]string{"Content-Type", "application/vnd.kubernetes.protobuf"}, header...)...)
	}
	p := &batchPath{}
	if p.takes(request(http.MethodPost, url)) {
		t.Error("the batch path took a request before it had a storage")
	}
	var storage rest.Creater = &fakeCreater{}
	p.bind(storage, nil)
	for _, tc := range []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"a protobuf create", request(http.MethodPost, url), true},
		{"with parameters", request(http.MethodPost, url, "Content-Type", "application/vnd.kubernetes.protobuf; charset=binary"), true},
		{"JSON", request(http.MethodPost, url, "Content-Type", "application/json"), false},
		{"no content type", request(http.MethodPost, url, "Content-Type", ""), false},
		{"a query", request(http.MethodPost, url+"?dryRun=All"), false},
		{"a GET", request(http.MethodGet, url), false},
		{"events", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/events"), false},
		{"a subresource", request(http.MethodPost, url+"/x"), false},
		{"a bad namespace", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/Flux_System/eventbatches"), false},
		{"no namespace", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces//eventbatches"), false},
		{"another version", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta1/namespaces/flux-system/eventbatches"), false},
		{"impersonation", request(http.MethodPost, url, "Impersonate-User", "erin"), false},
		{"impersonating a group", request(http.MethodPost, url, "Impersonate-Group", "admins"), false},
		{"CORS", request(http.MethodPost, url, "Origin", "https://example.com"), false},
		{"a Table answer", request(http.MethodPost, url, "Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"), false},
	} {
		if got := p.takes(tc.req); got != tc.want {
			t.Errorf("%s: takes = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type fakeCreater struct{ rest.Creater }

// newRequest returns a request of method to url over the TLS connection
// state (nil: plain HTTP), with the header pairs set in order: a later
// pair overrides an earlier one of the same name.
func newRequest(method, url string, state *tls.ConnectionState, header ...string) *http.Request {
	req := httptest.NewRequest(method, url, nil)
	req.TLS = state
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// TestTheCreatePathTakesOnlyCreatesTheKubeAPIServerProxies: a create of
// this group that the front proxy sent (its client certificate, a user
// header) takes the create path; anything the full chain decides
// otherwise, or that did not come through the kube-apiserver, does not.
func TestTheCreatePathTakesOnlyCreatesTheKubeAPIServerProxies(t *testing.T) {
	const url = "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/providers"
	headers := headerrequest.StaticStringSlice{"X-Remote-User"}
	proxied := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}}
	request := func(method, url string, state *tls.ConnectionState, header ...string) *http.Request {
		return newRequest(method, url, state, append([]string{"X-Remote-User", "erin"}, header...)...)
	}
	p := &batchPath{}
	if p.takesCreate(request(http.MethodPost, url, proxied), headers) {
		t.Error("the create path took a request before the server had its storage")
	}
	var storage rest.Creater = &fakeCreater{}
	p.bind(storage, nil)
	for _, tc := range []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"a proxied create", request(http.MethodPost, url, proxied), true},
		{"with a query and JSON", request(http.MethodPost, url+"?fieldManager=kubectl-create&dryRun=All", proxied, "Content-Type", "application/json"), true},
		{"a create of an Event", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/events", proxied), true},
		{"a create of an EventBatch in JSON", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/eventbatches", proxied), true},
		{"no user header", request(http.MethodPost, url, proxied, "X-Remote-User", ""), false},
		{"another user header", request(http.MethodPost, url, proxied, "X-Remote-User", "", "X-Other-User", "erin"), false},
		{"no client certificate", request(http.MethodPost, url, &tls.ConnectionState{}), false},
		{"not TLS", request(http.MethodPost, url, nil), false},
		{"a GET", request(http.MethodGet, url, proxied), false},
		{"an update", request(http.MethodPut, url+"/slack", proxied), false},
		{"a patch", request(http.MethodPatch, url+"/slack", proxied), false},
		{"a delete", request(http.MethodDelete, url+"/slack", proxied), false},
		{"another group", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io.example.com/v1/namespaces/a/providers", proxied), false},
		{"the core group", request(http.MethodPost, "/api/v1/namespaces", proxied), false},
		{"impersonation", request(http.MethodPost, url, proxied, "Impersonate-User", "frank"), false},
		{"impersonating a UID", request(http.MethodPost, url, proxied, "Impersonate-Uid", "1"), false},
		{"CORS", request(http.MethodPost, url, proxied, "Origin", "https://example.com"), false},
	} {
		if got := p.takesCreate(tc.req, headers); got != tc.want {
			t.Errorf("%s: takesCreate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTheEventPathTakesOnlyPlainEventCreates: of the create path's
// requests, the event path takes creates of an Event in JSON or protobuf
// without query parameters or a transformed answer; the rest go on to the
// API handler.
func TestTheEventPathTakesOnlyPlainEventCreates(t *testing.T) {
	const url = "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/events"
	request := func(method, url string, header ...string) *http.Request {
		return newRequest(method, url, nil, append([]string{"Content-Type", "application/json"}, header...)...)
	}
	p := &batchPath{}
	var storage rest.Creater = &fakeCreater{}
	p.bind(storage, nil)
	if p.takesEvent(request(http.MethodPost, url)) {
		t.Error("the event path took a request before it had the events storage")
	}
	p.bind(nil, storage)
	for _, tc := range []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"a JSON create", request(http.MethodPost, url), true},
		{"a protobuf create", request(http.MethodPost, url, "Content-Type", "application/vnd.kubernetes.protobuf"), true},
		{"with a charset", request(http.MethodPost, url, "Content-Type", "application/json; charset=utf-8"), true},
		{"answered as YAML", request(http.MethodPost, url, "Accept", "application/yaml"), true},
		{"YAML", request(http.MethodPost, url, "Content-Type", "application/yaml"), false},
		{"no content type", request(http.MethodPost, url, "Content-Type", ""), false},
		{"a dry run", request(http.MethodPost, url+"?dryRun=All"), false},
		{"a field manager", request(http.MethodPost, url+"?fieldManager=kubectl-create"), false},
		{"strict validation", request(http.MethodPost, url+"?fieldValidation=Strict"), false},
		{"a Table answer", request(http.MethodPost, url, "Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"), false},
		{"a GET", request(http.MethodGet, url), false},
		{"a subresource", request(http.MethodPost, url+"/x/status"), false},
		{"Providers", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/providers"), false},
		{"EventBatches", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/eventbatches"), false},
		{"a bad namespace", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/Flux_System/events"), false},
		{"another version", request(http.MethodPost, "/apis/notification.toolkit.fluxcd.io/v1beta1/namespaces/flux-system/events"), false},
	} {
		if got := p.takesEvent(tc.req); got != tc.want {
			t.Errorf("%s: takesEvent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTracingIsToldFromTheNoopProvider: with tracing configured every
// request takes the full chain, which makes its spans.
func TestTracingIsToldFromTheNoopProvider(t *testing.T) {
	if tracing(nil) || tracing(componenttracing.NewNoopTracerProvider()) {
		t.Error("tracing() with no tracer provider configured = true")
	}
	if !tracing(sdktrace.NewTracerProvider()) {
		t.Error("tracing() of an SDK tracer provider = false")
	}
}
