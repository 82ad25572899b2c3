package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestTheCreatePathAnswersAsTheFullChainThroughTheAggregator: a create
// that the kube-apiserver proxies takes the server's create path (a
// shorter handler chain around the same API handler); with an Origin
// header (CORS) the same request takes the full chain. Each create answers
// the same on both: the object stored with its managed fields, the
// warning of an unknown field, strict validation, a dry run, an invalid
// Provider, a namespace that does not exist. Events take the event path
// (no field manager: an Event keeps no managed fields, on either path)
// unless the decoder has something to say or the client cannot take the
// answer: a plain Event, one with an unknown field, an invalid one, one
// in a namespace that does not exist, one answered as YAML, and one whose
// answer nobody can take (406, nothing stored).
func TestTheCreatePathAnswersAsTheFullChainThroughTheAggregator(t *testing.T) {
	ns := "e2e-create-path"
	createNamespace(t, ns)
	proxy := startProxy(t)
	base := proxy + "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/"

	type answer struct {
		code     int
		body     string
		warnings []string
	}
	// short counts the requests sent to take the create path.
	short := 0
	// accept is the Accept header of the next posts.
	accept := "application/json"
	post := func(full bool, namespace, resource, query, body string) answer {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+namespace+"/"+resource+query, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		req.Header.Set("User-Agent", "create-path-test")
		if full {
			req.Header.Set("Origin", "https://example.com")
		} else {
			short++
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return answer{code: resp.StatusCode, body: string(data), warnings: resp.Header.Values("Warning")}
	}
	// comparable is what must be equal of two created objects: all but
	// the name, the identity, the version and the times.
	comparable := func(body, name string) map[string]any {
		t.Helper()
		var obj map[string]any
		if strings.HasPrefix(accept, "application/yaml") {
			if err := yaml.Unmarshal([]byte(body), &obj); err != nil {
				t.Fatalf("answer %q: %v", body, err)
			}
		} else if err := json.Unmarshal([]byte(body), &obj); err != nil {
			t.Fatalf("answer %q: %v", body, err)
		}
		meta, _ := obj["metadata"].(map[string]any)
		if meta == nil || meta["name"] != name {
			t.Fatalf("answer %s: want the object %s", body, name)
		}
		for _, k := range []string{"name", "uid", "resourceVersion", "creationTimestamp", "generation"} {
			delete(meta, k)
		}
		fields, _ := meta["managedFields"].([]any)
		switch obj["kind"] {
		case "Event":
			if len(fields) > 0 {
				t.Errorf("answer %s: an Event with managed fields", body)
			}
		default:
			if len(fields) == 0 {
				t.Errorf("answer %s: no managed fields", body)
			}
		}
		for _, f := range fields {
			delete(f.(map[string]any), "time")
		}
		if status, ok := obj["status"].(map[string]any); ok {
			conditions, _ := status["conditions"].([]any)
			for _, c := range conditions {
				delete(c.(map[string]any), "lastTransitionTime")
			}
			delete(status, "observedGeneration")
			delete(status, "routedAt")
		}
		return obj
	}
	provider := func(name, spec string) string {
		return `{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Provider","metadata":{"name":"` + name +
			`","labels":{"team":"a"}},"spec":` + spec + `}`
	}
	eventWith := func(severity, extra string) func(name string) string {
		return func(name string) string {
			return `{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","metadata":{"name":"` + name + `","labels":{"team":"a"}},` +
				`"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","name":"apps","namespace":"` + ns + `"},` +
				`"severity":"` + severity + `","timestamp":"2026-11-27T10:00:00Z","reason":"ReconciliationSucceeded","message":"applied",` +
				`"reportingController":"kustomize-controller"` + extra + `}`
		}
	}
	event := eventWith("info", "")
	// owned is an Event with the same owner twice, which the API handler
	// keeps once, with a warning.
	owned := func(name string) string {
		owner := `{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"6a3c3b8e-0c9e-4d55-9d0b-5d5b3c1f2a10"}`
		return strings.Replace(event(name), `"labels":{"team":"a"}`, `"labels":{"team":"a"},"ownerReferences":[`+owner+`,`+owner+`]`, 1)
	}
	before := serverMetricSum(t, "notification_create_path_requests_total")
	beforeEvents := serverMetricSum(t, "notification_event_path_requests_total", `code="201"`)
	// eventPath counts the creates sent to be answered by the event path.
	eventPath := 0

	for _, tc := range []struct {
		name, namespace, resource, query string
		body                             func(name string) string
		want                             int
		says                             string
		// accept is the Accept header, JSON when empty; eventPath tells
		// whether the event path answers the create.
		accept    string
		eventPath bool
	}{
		{"a Provider", ns, "providers", "", func(n string) string {
			return provider(n, `{"type":"generic","address":"https://example.com/hook","timeout":"5s"}`)
		}, http.StatusCreated, "", "", false},
		{"an unknown field", ns, "providers", "", func(n string) string {
			return provider(n, `{"type":"slack","channel":"general","address":"https://example.com/hook","colour":"red"}`)
		}, http.StatusCreated, "", "", false},
		{"an unknown field, strict", ns, "providers", "?fieldValidation=Strict", func(n string) string {
			return provider(n, `{"type":"slack","channel":"general","address":"https://example.com/hook","colour":"red"}`)
		}, http.StatusBadRequest, `unknown field \"spec.colour\"`, "", false},
		{"a dry run", ns, "providers", "?dryRun=All", func(n string) string {
			return provider(n, `{"type":"generic","address":"https://example.com/hook"}`)
		}, http.StatusCreated, "", "", false},
		{"an invalid Provider", ns, "providers", "", func(n string) string {
			return provider(n, `{"type":"nope","address":"https://example.com/hook"}`)
		}, http.StatusUnprocessableEntity, "spec.type", "", false},
		{"a field manager", ns, "providers", "?fieldManager=create-path", func(n string) string {
			return provider(n, `{"type":"generic","address":"https://example.com/hook"}`)
		}, http.StatusCreated, `"manager":"create-path"`, "", false},
		{"a namespace that does not exist", ns + "-none", "providers", "", func(n string) string {
			return provider(n, `{"type":"generic","address":"https://example.com/hook"}`)
		}, http.StatusNotFound, ns + "-none", "", false},
		{"an Event", ns, "events", "", event, http.StatusCreated, "", "", true},
		{"an Event answered as YAML", ns, "events", "", event, http.StatusCreated, "", "application/yaml", true},
		{"an Event with an unknown field", ns, "events", "", eventWith("info", `,"colour":"red"`), http.StatusCreated, "", "", false},
		{"an invalid Event", ns, "events", "", eventWith("loud", ""), http.StatusUnprocessableEntity, "severity", "", true},
		{"an Event in a namespace that does not exist", ns + "-none", "events", "", event, http.StatusNotFound, ns + "-none", "", true},
		{"an Event whose answer nobody takes", ns, "events", "", event, http.StatusNotAcceptable, "", "application/x-none", false},
		{"an Event with an owner twice", ns, "events", "", owned, http.StatusCreated, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accept = "application/json"
			if tc.accept != "" {
				accept = tc.accept
			}
			if tc.eventPath {
				eventPath++
			}
			slug := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), ",", ""))
			shortName, fullName := slug+"-short", slug+"-full"
			s := post(false, tc.namespace, tc.resource, tc.query, tc.body(shortName))
			f := post(true, tc.namespace, tc.resource, tc.query, tc.body(fullName))
			if s.code != tc.want || !strings.Contains(s.body, tc.says) {
				t.Fatalf("the create path answered %d %s; want %d saying %q", s.code, s.body, tc.want, tc.says)
			}
			if s.code != f.code {
				t.Fatalf("the create path answered %d %s\nthe full chain %d %s", s.code, s.body, f.code, f.body)
			}
			sw := strings.ReplaceAll(strings.Join(s.warnings, "\n"), shortName, fullName)
			if fw := strings.Join(f.warnings, "\n"); sw != fw {
				t.Errorf("the create path warned %q, the full chain %q", sw, fw)
			}
			if tc.name == "an unknown field" && !strings.Contains(sw, `unknown field \"spec.colour\"`) {
				t.Errorf("warnings %q: want one of the unknown field spec.colour", sw)
			}
			if tc.name == "an Event with an unknown field" && !strings.Contains(sw, `unknown field \"colour\"`) {
				t.Errorf("warnings %q: want one of the unknown field colour", sw)
			}
			if tc.name == "an Event with an owner twice" {
				if !strings.Contains(strings.ToLower(sw), "duplicate") {
					t.Errorf("warnings %q: want one of the duplicate owner reference", sw)
				}
				if n := strings.Count(s.body, `"uid":"6a3c3b8e-0c9e-4d55-9d0b-5d5b3c1f2a10"`); n != 1 {
					t.Errorf("the Event stored its owner %d times, want once: %s", n, s.body)
				}
			}
			if s.code != http.StatusCreated {
				if sb := strings.ReplaceAll(s.body, shortName, fullName); sb != f.body {
					t.Errorf("the create path answered %s\nthe full chain %s", sb, f.body)
				}
				if tc.resource == "events" {
					if out, err := kubectl(t, "-n", tc.namespace, "get", "events.notification", shortName); err == nil || !strings.Contains(out, "NotFound") {
						t.Errorf("an Event answered %d was stored: %s", s.code, out)
					}
				}
				return
			}
			so, fo := comparable(s.body, shortName), comparable(f.body, fullName)
			if !reflect.DeepEqual(so, fo) {
				t.Errorf("the create path stored %v\nthe full chain %v", so, fo)
			}
		})
	}
	out, err := kubectl(t, "-n", ns, "get", "providers.notification", "a-dry-run-short", "a-dry-run-full")
	if err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("the dry runs stored a Provider: %s", out)
	}

	// kubectl create (strict validation, its field manager) takes it too.
	mustKubectl(t, "-n", ns, "create", "-f", writeManifest(t, provider("by-kubectl", `{"type":"generic","address":"https://example.com/hook"}`)))
	short++
	managers := mustKubectl(t, "-n", ns, "get", "providers.notification", "by-kubectl", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
	if !strings.Contains(managers, "kubectl-create") {
		t.Errorf("kubectl's Provider has the managers %q, want kubectl-create", managers)
	}
	// An Event keeps no managed fields: server-side apply finds its fields
	// owned by before-first-apply, and takes them with --force-conflicts.
	applied := strings.Replace(event("applied"), `"team":"a"`, `"team":"b"`, 1)
	mustKubectl(t, "-n", ns, "apply", "--server-side", "-f", writeManifest(t, event("applied")))
	if out, err := kubectl(t, "-n", ns, "apply", "--server-side", "-f", writeManifest(t, applied)); err == nil || !strings.Contains(out, "before-first-apply") {
		t.Errorf("a changed label of an Event applied without --force-conflicts: %v %s", err, out)
	}
	mustKubectl(t, "-n", ns, "apply", "--server-side", "--force-conflicts", "-f", writeManifest(t, applied))
	got := mustKubectl(t, "-n", ns, "get", "events.notification", "applied", "--show-managed-fields", "-o", "jsonpath={.metadata.labels.team} {.metadata.managedFields}")
	if got != "b " {
		t.Errorf("the applied Event has the label and managed fields %q, want %q", got, "b ")
	}

	if got := serverMetricSum(t, "notification_create_path_requests_total") - before; got < float64(short) {
		t.Errorf("notification_create_path_requests_total grew by %v for %d proxied creates: not all took the create path", got, short)
	}
	// The created Events of the event path; its 422 and 404 count under
	// their own codes.
	if got := serverMetricSum(t, "notification_event_path_requests_total", `code="201"`) - beforeEvents; got != 2 {
		t.Errorf("notification_event_path_requests_total{code=\"201\"} grew by %v; want 2 (the plain Event and the one answered as YAML)", got)
	}
	if got := serverMetricSum(t, "notification_event_path_requests_total"); got < float64(eventPath) {
		t.Errorf("notification_event_path_requests_total is %v; want at least the %d Event creates it answers", got, eventPath)
	}
}
