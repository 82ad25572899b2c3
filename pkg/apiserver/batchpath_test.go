package apiserver

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/apiserver/pkg/registry/rest"
)

// TestTheBatchPathTakesOnlyPlainProtobufCreates: anything the batch path
// does not do as the full chain does goes to the full chain.
func TestTheBatchPathTakesOnlyPlainProtobufCreates(t *testing.T) {
	const url = "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/eventbatches"
	request := func(method, url string, header ...string) *http.Request {
		req := httptest.NewRequest(method, url, nil)
		req.Header.Set("Content-Type", "application/vnd.kubernetes.protobuf")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return req
	}
	p := &batchPath{}
	if p.takes(request(http.MethodPost, url)) {
		t.Error("the batch path took a request before it had a storage")
	}
	var storage rest.Creater = &fakeCreater{}
	p.bind(storage)
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
