package integration

import (
	"fmt"
	"strings"
	"testing"
)

// postRaw posts a body to a collection and returns the status code and the
// answer, with the request's query parameters.
func postRaw(t *testing.T, resource, ns string, body []byte, params map[string]string) (int, string) {
	t.Helper()
	req := client.NotificationV1beta2().RESTClient().Post().Namespace(ns).Resource(resource).
		SetHeader("Content-Type", "application/json").Body(body)
	for k, v := range params {
		req = req.Param(k, v)
	}
	var code int
	raw, _ := req.Do(t.Context()).StatusCode(&code).Raw()
	return code, string(raw)
}

func eventJSON(ns, name, extra string) string {
	return fmt.Sprintf(`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","metadata":{"name":%q},
"involvedObject":{"kind":"Kustomization","name":"webapp","namespace":%q},"severity":"error","timestamp":"2026-11-26T10:00:00Z",
"message":"m","reason":"R","reportingController":"kustomize-controller"%s}`, name, ns, extra)
}

func TestHostileInputGetsAClear4xx(t *testing.T) {
	ns := "hostile"
	manyKeys := make([]string, 10000)
	for i := range manyKeys {
		// Keys Flux keeps (unprefixed ones are dropped before validation, as Flux drops them).
		manyKeys[i] = fmt.Sprintf(`"event.toolkit.fluxcd.io/k%d":"v"`, i)
	}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	tests := []struct {
		name, resource string
		body           string
		params         map[string]string
		wantCode       int
		want           string
	}{
		{"malformed JSON", "events", `{"kind":"Event",`, nil, 400, ""},
		{"truncated JSON", "events", eventJSON(ns, "t", "")[:80], nil, 400, ""},
		{"a wrong type", "events", strings.Replace(eventJSON(ns, "w", ""), `"severity":"error"`, `"severity":3`, 1), nil, 400, "severity"},
		{"a body over 3 MiB", "events", eventJSON(ns, "big", `,"eventMetadata":{"x":"`+strings.Repeat("a", 3*1024*1024+1)+`"}`), nil, 413, ""},
		{"10,000 metadata keys", "events", eventJSON(ns, "keys", `,"eventMetadata":{`+strings.Join(manyKeys, ",")+`}`), nil, 422, "eventMetadata"},
		{"a 1 MiB message", "events", strings.Replace(eventJSON(ns, "msg", ""), `"message":"m"`, `"message":"`+strings.Repeat("m", 1<<20)+`"`, 1), nil, 422, "message"},
		{"deep nesting", "events", eventJSON(ns, "deep", `,"eventMetadata":`+deep), nil, 400, ""},
		{"unknown fields, strictly", "events", eventJSON(ns, "unknown", `,"surprise":true`), map[string]string{"fieldValidation": "Strict"}, 400, "surprise"},
		{"a name over 253 characters", "events", eventJSON(ns, strings.Repeat("n", 254), ""), nil, 422, "metadata.name"},
		{"a namespace that is not the object's", "events", strings.Replace(eventJSON(ns, "other", ""), `"namespace":"hostile"`, `"namespace":"elsewhere"`, 1), nil, 422, "involvedObject.namespace"},
		{"an address with credentials and control characters", "providers",
			`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Provider","metadata":{"name":"ctl"},"spec":{"type":"generic","address":"https://user:s3cr3t@h/\u0000x"}}`,
			nil, 422, "spec.address"},
		{"a catastrophic regexp is just a regexp", "alerts",
			`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Alert","metadata":{"name":"re"},"spec":{"providerRef":{"name":"p"},"eventSources":[{"kind":"Kustomization","name":"*"}],"inclusionList":["(a+)+$","x{1001}"]}}`,
			nil, 422, "inclusionList[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, answer := postRaw(t, tc.resource, ns, []byte(tc.body), tc.params)
			if code != tc.wantCode {
				t.Errorf("answered %d, want %d: %.300s", code, tc.wantCode, answer)
			}
			if tc.want != "" && !strings.Contains(answer, tc.want) {
				t.Errorf("the answer does not name %q: %.300s", tc.want, answer)
			}
			if strings.Contains(answer, "s3cr3t") {
				t.Errorf("the answer repeats the credentials: %.300s", answer)
			}
		})
	}
	// Invalid UTF-8 is replaced, not stored raw, and the event is accepted.
	code, answer := postRaw(t, "events", ns, []byte(strings.Replace(eventJSON(ns, "utf8", ""), `"message":"m"`, "\"message\":\"bad \xff\xfe bytes\"", 1)), nil)
	if code != 201 || strings.Contains(answer, "\xff") {
		t.Errorf("invalid UTF-8: %d %.200q", code, answer)
	}
	// Unknown fields without strict validation: accepted with a warning.
	code, _ = postRaw(t, "events", ns, []byte(eventJSON(ns, "lenient", `,"surprise":true`)), nil)
	if code != 201 {
		t.Errorf("unknown fields, leniently: %d", code)
	}
	// Names and namespaces at their limits are fine; one more character is
	// refused naming the problem.
	if code, answer := postRaw(t, "events", ns, []byte(eventJSON(ns, strings.Repeat("n", 253), "")), nil); code != 201 {
		t.Errorf("a name of 253 characters: %d %.300s", code, answer)
	}
	provider := func(name string) []byte {
		return []byte(`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Provider","metadata":{"name":"` + name +
			`"},"spec":{"type":"generic","address":"https://example.com/hook"}}`)
	}
	if code, answer := postRaw(t, "providers", ns, provider(strings.Repeat("p", 253)), nil); code != 201 {
		t.Errorf("a Provider name of 253 characters: %d %.300s", code, answer)
	}
	if code, answer := postRaw(t, "providers", ns, provider(strings.Repeat("p", 254)), nil); code != 422 || !strings.Contains(answer, "metadata.name") {
		t.Errorf("a Provider name of 254 characters: %d %.300s", code, answer)
	}
	longNS := strings.Repeat("x", 64)
	if code, answer := postRaw(t, "events", longNS, []byte(eventJSON(longNS, "e", "")), nil); code/100 != 4 || !strings.Contains(answer, longNS) {
		t.Errorf("a namespace of 64 characters: %d %.300s", code, answer)
	}
	// And the server is fine.
	if raw, err := client.NotificationV1beta2().RESTClient().Get().AbsPath("/readyz").DoRaw(t.Context()); err != nil || string(raw) != "ok" {
		t.Errorf("/readyz after hostile input: %q %v", raw, err)
	}
}
