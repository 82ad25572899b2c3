package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// The security promises of the issue "Reliability and security": a Secret's
// values show nowhere (TestSentinel...), Kubernetes RBAC governs every read
// and write and no reference crosses namespaces (TestRBAC...), a
// certSecretRef's CA is the only trust (TestTLS...), and the server's
// --no-cross-namespace-refs and address policy flags hold both at admission
// and at delivery (TestSecurity...).

// TestRBACPostingAnEventNeedsCreateOnNotificationEvents posts through the
// Kubernetes API as users who do and do not have the grant: the answer is
// 201 or 403, and a grant on the core group's events is not a grant on ours.
func TestRBACPostingAnEventNeedsCreateOnNotificationEvents(t *testing.T) {
	ns, other := "e2e-rbac-post", "e2e-rbac-post-other"
	createNamespace(t, ns)
	createNamespace(t, other)
	mustKubectl(t, "-n", ns, "create", "role", "event-poster", "--verb=create", "--resource=events.notification.toolkit.fluxcd.io")
	mustKubectl(t, "-n", ns, "create", "rolebinding", "event-poster", "--role=event-poster", "--user=bob")
	// carol may create the core group's events, and nothing of ours.
	mustKubectl(t, "-n", ns, "create", "role", "core-events", "--verb=create", "--resource=events")
	mustKubectl(t, "-n", ns, "create", "rolebinding", "core-events", "--role=core-events", "--user=carol")

	proxy := startProxy(t)
	post := func(user, namespace, message string) (int, string) {
		t.Helper()
		event := fmt.Sprintf(`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","metadata":{"namespace":%q},
"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","name":"apps","namespace":%q},
"severity":"info","timestamp":"2026-11-26T10:00:00Z","reason":"ReconciliationSucceeded","message":%q,"reportingController":"kustomize-controller"}`,
			namespace, namespace, message)
		return postAs(t, user, proxy+"/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/"+namespace+"/events", event)
	}

	// The grant reaches the server's authorizer through a SubjectAccessReview
	// that it caches for a second: wait until bob's post goes through.
	var code int
	var body string
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, body = post("bob", ns, "posted by bob"); code == http.StatusCreated || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if code != http.StatusCreated {
		t.Fatalf("bob, who may create events.notification.toolkit.fluxcd.io in %s, got %d: %s", ns, code, body)
	}
	for _, tc := range []struct{ user, namespace, why string }{
		{"carol", ns, "with create on the core group's events only"},
		{"dave", ns, "without any grant"},
		{"bob", other, "with a grant in another namespace only"},
	} {
		code, body := post(tc.user, tc.namespace, "posted by "+tc.user)
		if code != http.StatusForbidden {
			t.Errorf("%s, %s, posting in %s got %d, want 403: %s", tc.user, tc.why, tc.namespace, code, body)
		} else if !strings.Contains(body, `cannot create resource \"events\" in API group \"notification.toolkit.fluxcd.io\"`) {
			t.Errorf("the 403 does not say what is missing: %s", body)
		}
	}
	for _, namespace := range []string{ns, other} {
		messages := mustKubectl(t, "-n", namespace, "get", "events.notification", "-o", "jsonpath={.items[*].message}")
		if want := map[string]string{ns: "posted by bob", other: ""}[namespace]; messages != want {
			t.Errorf("events stored in %s: %q, want %q", namespace, messages, want)
		}
	}
}

// TestRBACASecretRefStaysInItsNamespace: a Provider names a Secret of its
// own namespace only. A namespace field is refused by strict field
// validation, dropped without it, and a name with a slash is invalid; the
// Provider of namespace A never reads B's Secret of the same name.
func TestRBACASecretRefStaysInItsNamespace(t *testing.T) {
	nsA, nsB := "e2e-ref-a", "e2e-ref-b"
	createNamespace(t, nsA)
	createNamespace(t, nsB)
	theirs, ours := newRecordingSink(t), newRecordingSink(t)
	mustKubectl(t, "-n", nsB, "create", "secret", "generic", "hook", "--from-literal=address="+theirs.URL+"/theirs")

	provider := func(name, refs string) string {
		return writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: `+name+`, namespace: `+nsA+`}
spec: {type: generic, `+refs+`}
`)
	}
	for _, tc := range []struct{ refs, field string }{
		{"secretRef: {name: hook, namespace: " + nsB + "}", "spec.secretRef.namespace"},
		{"certSecretRef: {name: hook, namespace: " + nsB + "}", "spec.certSecretRef.namespace"},
	} {
		manifest := provider("cross", tc.refs)
		if out, err := kubectl(t, "apply", "--server-side", "-f", manifest); err == nil || !strings.Contains(out, tc.field) {
			t.Errorf("apply --server-side of a Provider with %s: %v\n%s", tc.field, err, out)
		}
		if out, err := kubectl(t, "create", "-f", manifest); err == nil || !strings.Contains(out, `unknown field "`+tc.field+`"`) {
			t.Errorf("create of a Provider with %s: %v\n%s", tc.field, err, out)
		}
	}
	if out, err := kubectl(t, "create", "-f", provider("slashed", "secretRef: {name: "+nsB+"/hook}")); err == nil || !strings.Contains(out, "spec.secretRef.name") {
		t.Errorf("a secretRef named %s/hook was not refused naming spec.secretRef.name: %v\n%s", nsB, err, out)
	}
	if out := mustKubectl(t, "-n", nsA, "get", "providers", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Fatalf("refused Providers were stored: %s", out)
	}

	// Without strict validation the unknown field is dropped, not obeyed.
	_, warnings, err := kubectlStreams(t, "create", "--validate=false", "-f", provider("hook", "secretRef: {name: hook, namespace: "+nsB+"}"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warnings, "Secret "+nsA+"/hook does not exist") {
		t.Errorf("admission did not warn that %s/hook is missing: %s", nsA, warnings)
	}
	if ref := mustKubectl(t, "-n", nsA, "get", "provider", "hook", "-o", "jsonpath={.spec.secretRef}"); ref != `{"name":"hook"}` {
		t.Errorf("stored secretRef %s, want only the name", ref)
	}
	waitFor(t, nsA, "provider/hook", "condition=Ready=False")
	if msg := mustKubectl(t, "-n", nsA, "get", "provider", "hook", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`); msg != "Secret "+nsA+"/hook not found" {
		t.Errorf("Ready message %q, want the Secret of the Provider's namespace not found", msg)
	}
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata: {name: hook, namespace: `+nsA+`}
spec:
  providerRef: {name: hook}
  eventSources: [{kind: Kustomization, name: '*'}]
`))
	waitChecked(t, nsA, "alert/hook")
	createEvent(t, nil, nsA, "ref-event", "Kustomization", "apps", "error", "health check failed")
	e := waitEvent(t, nil, nsA, "ref-event", func(e *v1beta2.Event) bool {
		return len(e.Status.Deliveries) == 1 && e.Status.Deliveries[0].Message != ""
	})
	if d := e.Status.Deliveries[0]; d.State == "Delivered" || d.Message != "Secret "+nsA+"/hook not found" {
		t.Errorf("delivery %+v, want pending on the missing Secret of %s", d, nsA)
	}

	// The Provider's own namespace's Secret is the one it uses.
	mustKubectl(t, "-n", nsA, "create", "secret", "generic", "hook", "--from-literal=address="+ours.URL+"/ours")
	waitEvent(t, nil, nsA, "ref-event", func(e *v1beta2.Event) bool { return e.Status.Deliveries[0].State == "Delivered" })
	if got := ours.paths(); len(got) != 1 || got[0] != "/ours" {
		t.Errorf("the Secret of %s got %v, want one delivery", nsA, got)
	}
	if got := theirs.paths(); len(got) != 0 {
		t.Errorf("the address in %s's Secret got %v", nsB, got)
	}
}

// TestTLSCertSecretRefIsTheOnlyTrust: with a certSecretRef, delivery trusts
// the CA of the Secret, and nothing else; without one, the system roots,
// which know no sink here. The client certificate of the Secret is presented.
func TestTLSCertSecretRefIsTheOnlyTrust(t *testing.T) {
	ns := "e2e-tls"
	createNamespace(t, ns)
	// A self-signed sink, and an impostor with the same name whose
	// certificate another CA of that same name signed.
	selfSigned := newCertificate(t, "e2e-sink", nil, true)
	impostorCA := newCertificate(t, "e2e-sink", nil, true)
	impostor := newCertificate(t, "e2e-sink", impostorCA, false)
	clientCA := newCertificate(t, "e2e-clients", nil, true)
	clientCert := newCertificate(t, "notification-apiserver", clientCA, false)

	trusted := newTLSSink(t, selfSigned, nil)
	foreign := newTLSSink(t, impostor, nil)
	mutual := newTLSSink(t, selfSigned, clientCA)

	objects := []map[string]any{
		secretObject(ns, "sink-ca", map[string]string{"ca.crt": string(selfSigned.CertPEM)}),
		secretObject(ns, "sink-ca-and-client", map[string]string{
			"ca.crt": string(selfSigned.CertPEM), "tls.crt": string(clientCert.CertPEM), "tls.key": string(clientCert.KeyPEM)}),
	}
	for _, p := range []struct{ name, address, certSecret string }{
		{"trusted", trusted.URL + "/trusted", "sink-ca"},
		{"impostor", foreign.URL + "/impostor", "sink-ca"},
		{"system-roots", trusted.URL + "/system-roots", ""},
		{"mutual", mutual.URL + "/mutual", "sink-ca-and-client"},
		{"mutual-without-client-cert", mutual.URL + "/mutual-without-client-cert", "sink-ca"},
	} {
		spec := map[string]any{"type": "generic", "address": p.address}
		if p.certSecret != "" {
			spec["certSecretRef"] = map[string]any{"name": p.certSecret}
		}
		objects = append(objects, providerObject(ns, p.name, spec), alertObject(ns, p.name, p.name, "Kustomization"))
	}
	applyObjects(t, nil, objects...)
	for _, name := range []string{"trusted", "impostor", "system-roots", "mutual", "mutual-without-client-cert"} {
		waitFor(t, ns, "alert/"+name, "condition=Ready")
	}
	createEvent(t, nil, ns, "tls-event", "Kustomization", "apps", "error", "health check failed")
	e := waitEvent(t, nil, ns, "tls-event", func(e *v1beta2.Event) bool {
		if len(e.Status.Deliveries) != 5 {
			return false
		}
		for _, d := range e.Status.Deliveries {
			if d.State != "Delivered" && d.Message == "" {
				return false
			}
		}
		return true
	})
	for _, d := range e.Status.Deliveries {
		switch d.Provider {
		case "trusted", "mutual":
			if d.State != "Delivered" {
				t.Errorf("delivery to %s: %+v, want Delivered", d.Provider, d)
			}
		default:
			if d.State == "Delivered" || !strings.Contains(d.Message, "certificate") {
				t.Errorf("delivery to %s: %+v, want a certificate failure", d.Provider, d)
			}
		}
	}
	if got := trusted.paths(); len(got) != 1 || got[0] != "/trusted" {
		t.Errorf("the self-signed sink got %v, want only /trusted", got)
	}
	if got := foreign.paths(); len(got) != 0 {
		t.Errorf("the impostor got %v", got)
	}
	if got := mutual.paths(); len(got) != 1 || got[0] != "/mutual" {
		t.Errorf("the sink requiring a client certificate got %v, want only /mutual", got)
	}
}

// TestSecurityFlagsHoldOnAServerStartedWithThem runs a second server
// beside the e2e one, with --no-cross-namespace-refs and both address
// policy flags, and gives both the same objects and events: the e2e server
// routes the cross-namespace event and delivers everything; the flagged one
// routes no cross-namespace event, refuses internal and plain http
// addresses at admission, and refuses them at delivery when they come from
// a Secret, which admission does not see.
func TestSecurityFlagsHoldOnAServerStartedWithThem(t *testing.T) {
	flagged := startFlaggedServer(t, "--no-cross-namespace-refs", "--address-policy-deny-internal", "--address-policy-require-https")
	nsA, nsB := "e2e-flags-alerts", "e2e-flags-sources"
	createNamespace(t, nsA)
	createNamespace(t, nsB)
	cert := newCertificate(t, "e2e-sink", nil, true)
	sink := newTLSSink(t, cert, nil)

	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: v1
kind: Secret
metadata: {name: sink, namespace: `+nsA+`}
stringData: {address: "`+sink.URL+`/hook"}
---
apiVersion: v1
kind: Secret
metadata: {name: plain, namespace: `+nsA+`}
stringData: {address: "http://203.0.113.10/hook"}
---
apiVersion: v1
kind: Secret
metadata: {name: proxied, namespace: `+nsA+`}
stringData: {address: "https://203.0.113.10/hook", proxy: "https://127.0.0.1:3128"}
`))
	applyObjects(t, nil, secretObject(nsA, "sink-ca", map[string]string{"ca.crt": string(cert.CertPEM)}))
	both := []map[string]any{
		providerObject(nsA, "sink", map[string]any{"type": "generic", "secretRef": map[string]any{"name": "sink"}, "certSecretRef": map[string]any{"name": "sink-ca"}}),
		alertObject(nsA, "own", "sink", "Kustomization"),
		alertObject(nsA, "cross", "sink", "Kustomization", nsB),
	}
	applyObjects(t, nil, both...)
	applyObjects(t, flagged, append(both,
		providerObject(nsA, "plain", map[string]any{"type": "generic", "secretRef": map[string]any{"name": "plain"}}),
		alertObject(nsA, "plain", "plain", "GitRepository"),
		providerObject(nsA, "proxied", map[string]any{"type": "generic", "secretRef": map[string]any{"name": "proxied"}}),
		alertObject(nsA, "proxied", "proxied", "HelmRelease"),
	)...)
	for _, server := range [][]string{nil, flagged} {
		for _, alert := range []string{"own", "cross"} {
			waitForOn(t, server, nsA, "alert/"+alert, "condition=Ready")
		}
	}

	t.Run("no-cross-namespace-refs", func(t *testing.T) {
		for _, server := range [][]string{nil, flagged} {
			createEvent(t, server, nsA, "own-event", "Kustomization", "apps", "error", "own namespace")
			createEvent(t, server, nsB, "cross-event", "Kustomization", "apps", "error", "other namespace")
		}
		settled := func(e *v1beta2.Event) bool {
			if e.Status.RoutedAt == nil {
				return false
			}
			for _, d := range e.Status.Deliveries {
				if d.State == "Pending" {
					return false
				}
			}
			return true
		}
		// Without the flag: both routed and delivered.
		for _, tc := range []struct{ ns, name, alert string }{{nsA, "own-event", "own"}, {nsB, "cross-event", nsA + "/cross"}} {
			e := waitEvent(t, nil, tc.ns, tc.name, settled)
			if len(e.Status.Deliveries) != 1 || e.Status.Deliveries[0].Alert != tc.alert || e.Status.Deliveries[0].State != "Delivered" {
				t.Errorf("the e2e server's deliveries of %s: %+v, want one Delivered through %s", tc.name, e.Status.Deliveries, tc.alert)
			}
		}
		// With it: the own event is routed (and its delivery meets the
		// policy), the other namespace's event matches no Alert.
		e := waitEvent(t, flagged, nsA, "own-event", settled)
		if len(e.Status.Deliveries) != 1 || e.Status.Deliveries[0].Alert != "own" {
			t.Errorf("the flagged server routed own-event to %+v, want Alert own", e.Status.Deliveries)
		}
		e = waitEvent(t, flagged, nsB, "cross-event", settled)
		if want := "no Alert matched; Alert " + nsA + "/cross: access denied to cross-namespace sources"; len(e.Status.Deliveries) != 0 || !strings.HasPrefix(e.Status.Message, want) {
			t.Errorf("the flagged server's status of cross-event: %+v, want no delivery and a message starting %q", e.Status, want)
		}
		if got := sink.paths(); len(got) != 2 {
			t.Errorf("the sink got %d deliveries, want the e2e server's 2", len(got))
		}
	})

	t.Run("the address policy at admission", func(t *testing.T) {
		for _, tc := range []struct{ spec, field, why string }{
			{`{type: generic, address: "https://127.0.0.1:8443/hook"}`, "spec.address", "refuses internal address 127.0.0.1"},
			{`{type: generic, address: "https://169.254.169.254/latest/meta-data"}`, "spec.address", "refuses internal address 169.254.169.254"},
			{`{type: generic, address: "https://localhost/hook"}`, "spec.address", `refuses internal host "localhost"`},
			{`{type: generic, address: "http://203.0.113.10/hook"}`, "spec.address", "requires https"},
			{`{type: slack, address: "https://203.0.113.10/api/chat.postMessage", proxy: "https://10.0.0.1:3128"}`, "spec.proxy", "refuses internal address 10.0.0.1"},
		} {
			out, err := kubectl(t, append(flagged, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: refused, namespace: `+nsA+`}
spec: `+tc.spec+`
`))...)
			if err == nil || !strings.Contains(out, tc.field) || !strings.Contains(out, tc.why) {
				t.Errorf("the flagged server's answer to %s: %v\n%s", tc.spec, err, out)
			}
		}
		mustKubectl(t, append(flagged, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: public, namespace: `+nsA+`}
spec: {type: generic, address: "https://203.0.113.10/hook"}
`))...)
	})

	t.Run("the address policy at delivery", func(t *testing.T) {
		createEvent(t, flagged, nsA, "plain-event", "GitRepository", "apps", "error", "to plain http")
		createEvent(t, flagged, nsA, "proxied-event", "HelmRelease", "apps", "error", "through a loopback proxy")
		for _, tc := range []struct{ name, want string }{
			{"own-event", "address: the address policy refuses internal address 127.0.0.1"},
			{"plain-event", "address: the address policy requires https"},
			{"proxied-event", "proxy: the address policy refuses internal address 127.0.0.1"},
		} {
			e := waitEvent(t, flagged, nsA, tc.name, func(e *v1beta2.Event) bool {
				return len(e.Status.Deliveries) == 1 && e.Status.Deliveries[0].State != "Pending"
			})
			if d := e.Status.Deliveries[0]; d.State != "Failed" || d.Message != tc.want {
				t.Errorf("the flagged server's delivery of %s: %+v, want Failed: %s", tc.name, d, tc.want)
			}
		}
		if got := sink.paths(); len(got) != 2 {
			t.Errorf("the sink got %d deliveries, want the e2e server's 2", len(got))
		}
	})
}

// sentinelNeedles are what must show nowhere: the random part of the
// sentinel (in two halves, to catch a cut one) and the Basic credentials
// built from it.
func sentinelNeedles(random string, basic ...string) []string {
	needles := []string{random[:len(random)/2], random[len(random)/2:]}
	for _, b := range basic {
		needles = append(needles, base64.StdEncoding.EncodeToString([]byte(b)))
	}
	return needles
}

// assertNoNeedle fails the test when text holds a needle, and shows where.
func assertNoNeedle(t *testing.T, where, text string, needles []string) {
	t.Helper()
	for _, n := range needles {
		if i := strings.Index(text, n); i >= 0 {
			t.Errorf("%s shows a secret: %q", where, text[max(0, i-120):min(len(text), i+len(n)+60)])
		}
	}
}

// TestSentinelSecretsNeverShowAnywhere puts one random sentinel in every
// place a secret can be — a Secret's token, userinfo and query of an
// address, a proxy's password, a header value, a client key and a CA of a
// certSecretRef — across Provider types whose deliveries fail in every way
// (an unreachable address, a 401 that echoes what it got, a bad proxy, a
// proxy answering 407, Slack's ok:false, malformed keys), and in invalid
// objects refused at admission; then looks for it in every log, status,
// Kubernetes Event, the metrics, and what a viewer of the namespace reads.
// It runs after the other tests of this file, so its sweep of the logs
// covers theirs too.
func TestSentinelSecretsNeverShowAnywhere(t *testing.T) {
	ns := "e2e-sentinel"
	createNamespace(t, ns)
	random := randomHex(t, 12)
	secret := func(where string) string { return "sentinel-" + random + "-" + where }
	needles := sentinelNeedles(random, "user:"+secret("pass"), "proxyuser:"+secret("proxy-pass"), "am:"+secret("am-pass"))

	// A receiver that answers 401 and echoes what it was sent, as careless
	// ones do; Slack's ok:false with the token; a proxy that answers 407
	// with its Proxy-Authorization and the request's target.
	echoes := func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		switch {
		case strings.HasSuffix(r.URL.Path, "/api/chat.postMessage"):
			fmt.Fprintf(w, `{"ok":false,"error":"invalid_auth: %s"}`, r.Header.Get("Authorization"))
		case r.URL.Path == "/headers":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "denied: authorization=%q apikey=%q", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
		case r.URL.Path == "/query":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "denied: token=%q", r.URL.Query().Get("token"))
		default: // basic auth, the git service, alertmanager
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "denied: authorization=%q password=%q", r.Header.Get("Authorization"), pass)
		}
	}
	echo := newRecordingSinkFunc(t, echoes)
	proxy := newRecordingSinkFunc(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusProxyAuthRequired)
		fmt.Fprintf(w, "denied: %q for %s", r.Header.Get("Proxy-Authorization"), r.RequestURI)
	})
	cert := newCertificate(t, "e2e-sink", nil, true)
	tlsEcho := newTLSSinkFunc(t, cert, nil, echoes)
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	hostOf := func(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://") }

	const sha = "731f7eaddfb6af01cb2173e18f0f75b0ba780ef1"
	type provider struct {
		name    string
		spec    map[string]any
		secret  map[string]string // the Secret of spec.secretRef
		certs   map[string]string // the Secret of spec.certSecretRef
		failing bool              // whether its delivery fails in the sink or the network (not in its settings)
	}
	providers := []provider{
		{name: "headers", spec: map[string]any{"type": "generic"}, failing: true, secret: map[string]string{
			"address": echo.URL + "/headers",
			"headers": "Authorization: Bearer " + secret("header") + "\nX-Api-Key: " + secret("api-key") + "\n"}},
		{name: "basic-and-query", spec: map[string]any{"type": "generic"}, failing: true, certs: map[string]string{"ca.crt": string(cert.CertPEM)},
			secret: map[string]string{"address": "https://user:" + secret("pass") + "@" + hostOf(tlsEcho.URL) + "/basic?token=" + secret("query") + "&team=flux"}},
		{name: "query", spec: map[string]any{"type": "generic"}, failing: true,
			secret: map[string]string{"address": echo.URL + "/query?team=flux&token=" + secret("query-value")}},
		{name: "hmac", spec: map[string]any{"type": "generic-hmac"}, failing: true,
			secret: map[string]string{"token": secret("hmac"), "address": echo.URL + "/hmac"}},
		{name: "slack", spec: map[string]any{"type": "slack", "channel": "general", "address": echo.URL + "/api/chat.postMessage"}, failing: true,
			secret: map[string]string{"token": secret("slack")}},
		{name: "github", spec: map[string]any{"type": "github", "address": echo.URL + "/org/app"}, failing: true,
			secret: map[string]string{"token": secret("github")}},
		{name: "alertmanager", spec: map[string]any{"type": "alertmanager"}, failing: true,
			secret: map[string]string{"address": "http://am:" + secret("am-pass") + "@" + hostOf(echo.URL) + "/api/v2/alerts"}},
		{name: "unreachable", spec: map[string]any{"type": "generic"}, failing: true,
			secret: map[string]string{"address": "https://user:" + secret("pass") + "@" + closed + "/?token=" + secret("unreachable")}},
		{name: "proxy-down", spec: map[string]any{"type": "generic"}, failing: true, secret: map[string]string{
			"address": echo.URL + "/proxied?token=" + secret("proxied-query"),
			"proxy":   "http://proxyuser:" + secret("proxy-pass") + "@" + closed}},
		{name: "proxy-407", spec: map[string]any{"type": "generic"}, failing: true, secret: map[string]string{
			"address": echo.URL + "/proxied?token=" + secret("proxied-query"),
			"proxy":   "http://proxyuser:" + secret("proxy-pass") + "@" + hostOf(proxy.URL)}},
		{name: "bad-address", spec: map[string]any{"type": "generic"},
			secret: map[string]string{"address": "https://user:" + secret("pass") + "@exa mple.com/?token=" + secret("bad-address")}},
		{name: "bad-proxy", spec: map[string]any{"type": "generic"}, secret: map[string]string{
			"address": echo.URL + "/x", "proxy": "socks5://proxyuser:" + secret("socks") + "@proxy:1080"}},
		{name: "bad-headers", spec: map[string]any{"type": "generic"}, secret: map[string]string{
			"address": echo.URL + "/x", "headers": secret("header-name") + ": [not closed"}},
		{name: "bad-repository", spec: map[string]any{"type": "gitlab"}, secret: map[string]string{
			"address": "https://oauth2:" + secret("gitlab") + "@gitlab.example.com", "token": secret("gitlab-token")}},
		{name: "bad-ca", spec: map[string]any{"type": "generic", "address": echo.URL + "/x"}, certs: map[string]string{
			"ca.crt": "-----BEGIN CERTIFICATE-----\n" + secret("ca") + "\n-----END CERTIFICATE-----\n"}},
		{name: "bad-client-key", spec: map[string]any{"type": "generic", "address": echo.URL + "/x"}, certs: map[string]string{
			"tls.crt": string(cert.CertPEM), "tls.key": "-----BEGIN PRIVATE KEY-----\n" + secret("key") + "\n-----END PRIVATE KEY-----\n"}},
	}
	var objects []map[string]any
	for _, p := range providers {
		if p.secret != nil {
			objects = append(objects, secretObject(ns, p.name, p.secret))
			p.spec["secretRef"] = map[string]any{"name": p.name}
		}
		if p.certs != nil {
			objects = append(objects, secretObject(ns, p.name+"-tls", p.certs))
			p.spec["certSecretRef"] = map[string]any{"name": p.name + "-tls"}
		}
		objects = append(objects, providerObject(ns, p.name, p.spec), alertObject(ns, p.name, p.name, "Kustomization"))
	}
	warnings := applyObjects(t, nil, objects...)
	assertNoNeedle(t, "the warnings of kubectl apply", warnings, needles)

	// Routing takes the Alerts the server has seen when the event comes.
	for _, p := range providers {
		waitChecked(t, ns, "alert/"+p.name)
	}
	mustKubectl(t, "create", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Event
metadata: {namespace: `+ns+`, name: sentinel-event}
involvedObject: {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: apps, namespace: `+ns+`}
severity: error
timestamp: "2026-11-26T10:00:00Z"
reason: HealthCheckFailed
message: "health check failed after 30s"
eventMetadata: {kustomize.toolkit.fluxcd.io/revision: "main@sha1:`+sha+`"}
reportingController: kustomize-controller
`))
	e := waitEvent(t, nil, ns, "sentinel-event", func(e *v1beta2.Event) bool {
		if len(e.Status.Deliveries) != len(providers) {
			return false
		}
		for _, d := range e.Status.Deliveries {
			if d.State == "Delivered" || d.Message == "" {
				return false
			}
		}
		return true
	})
	byProvider := map[string]v1beta2.Delivery{}
	for _, d := range e.Status.Deliveries {
		byProvider[d.Provider] = d
		t.Logf("delivery to %s: %s after %d attempts: %s", d.Provider, d.State, d.Attempts, d.Message)
	}
	// The failures happened where they should: the secrets were sent and
	// echoed, so redaction was put to the test.
	for _, p := range providers {
		if d := byProvider[p.name]; p.failing && d.Attempts == 0 {
			t.Errorf("the delivery to %s was never attempted: %+v", p.name, d)
		}
	}
	for _, path := range []string{"/headers", "/basic", "/query", "/hmac", "/api/chat.postMessage", "/api/v3/repos/org/app/commits/" + sha + "/statuses", "/api/v2/alerts"} {
		if !slices.Contains(append(echo.paths(), tlsEcho.paths()...), path) {
			t.Errorf("the echoing receiver never got %s: %v %v", path, echo.paths(), tlsEcho.paths())
		}
	}
	if got := proxy.paths(); len(got) == 0 {
		t.Error("the proxy answering 407 got no request")
	}

	t.Run("API errors", func(t *testing.T) {
		for _, tc := range []struct{ spec, field string }{
			{`{type: generic, address: "https://user:` + secret("422-pass") + `@example.com/a path?token=` + secret("422-query") + `"}`, "spec.address"},
			{`{type: generic, address: "https://example.com", proxy: "socks5://user:` + secret("422-proxy") + `@proxy:1080"}`, "spec.proxy"},
			{`{type: github, address: "https://user:` + secret("422-github") + `@github.com/only-an-owner"}`, "spec.address"},
			{`{type: azureeventhub, address: "Endpoint=sb://hub.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=` + secret("422-sas") + `"}`, "spec.address"},
			{`{type: generic, address: "https://example.com", secretRef: {name: hook, namespace: ` + secret("422-ns") + `}}`, "spec.secretRef.namespace"},
			{`{type: generic, address: "https://example.com/` + secret("422-long") + strings.Repeat("x", 2100) + `"}`, "spec.address"},
		} {
			manifest := writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: refused, namespace: `+ns+`}
spec: `+tc.spec+`
`)
			for _, verb := range [][]string{{"apply", "--server-side"}, {"create"}} {
				out, errOut, err := kubectlStreams(t, append(verb, "-f", manifest)...)
				if err == nil {
					t.Errorf("kubectl %s of %s was accepted", verb[0], tc.field)
					continue
				}
				if !strings.Contains(errOut, tc.field) {
					t.Errorf("kubectl %s: the error does not name %s: %s", verb[0], tc.field, errOut)
				}
				assertNoNeedle(t, "kubectl "+verb[0]+"'s error", out+errOut, needles)
			}
		}
	})

	// Let the reconciler have its say on every Provider, and its Events reach
	// the Kubernetes API.
	for _, p := range providers {
		waitChecked(t, ns, "provider/"+p.name)
	}
	waitKubeEvents(t, ns, "bad-address", "bad-proxy", "bad-headers", "bad-ca", "bad-client-key")

	t.Run("statuses and Kubernetes Events", func(t *testing.T) {
		for _, args := range [][]string{
			{"get", "providers.notification,alerts.notification,events.notification", "-A", "-o", "json"},
			{"get", "providers.notification,alerts.notification,events.notification", "-n", ns},
			{"get", "events", "-A", "-o", "json"},
			{"describe", "providers.notification", "-n", ns},
			{"describe", "events.notification", "-n", ns},
		} {
			assertNoNeedle(t, "kubectl "+strings.Join(args, " "), mustKubectl(t, args...), needles)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		assertNoNeedle(t, "the server's /metrics", serverMetrics(t), needles)
	})
	t.Run("a viewer of the namespace", func(t *testing.T) {
		viewerReadsNoSecret(t, ns, "alice", needles)
	})
	t.Run("logs", func(t *testing.T) {
		logs, _ := filepath.Glob(filepath.Join(localDir, "logs", "*.log"))
		if len(logs) < 4 {
			t.Errorf("only %d logs in %s: %v", len(logs), localDir, logs)
		}
		for _, l := range logs {
			data, err := os.ReadFile(l)
			if err != nil {
				t.Fatal(err)
			}
			assertNoNeedle(t, l, string(data), needles)
		}
	})
}

// viewerReadsNoSecret gives user get, list and watch on the notification
// API in ns, and nothing on Secrets, and reads all it can: no read shows a
// Secret's value.
func viewerReadsNoSecret(t *testing.T, ns, user string, needles []string) {
	t.Helper()
	mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: notification-viewer, namespace: `+ns+`}
rules:
- apiGroups: [notification.toolkit.fluxcd.io]
  resources: [providers, alerts, events, providers/status, alerts/status, events/status]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: notification-viewer, namespace: `+ns+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: notification-viewer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: `+user+`}]
`))
	as := "--as=" + user
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := kubectl(t, "-n", ns, "get", "providers.notification", as); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s cannot list providers 60s after the RoleBinding", user)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if out, err := kubectl(t, "-n", ns, "get", "secrets", as); err == nil || !strings.Contains(out, "Forbidden") {
		t.Fatalf("%s can list Secrets: %v\n%s", user, err, out)
	}
	reads := [][]string{
		{"get", "providers.notification", "-o", "json"},
		{"get", "providers.notification", "-o", "yaml"},
		{"get", "providers.notification", "-o", "wide"},
		{"get", "alerts.notification", "-o", "json"},
		{"get", "alerts.notification"},
		{"get", "events.notification", "-o", "json"},
		{"get", "events.notification"},
		{"get", "--raw", "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/" + ns + "/events/sentinel-event/status"},
		{"get", "--raw", "/apis/notification.toolkit.fluxcd.io"},
		{"get", "--raw", "/apis/notification.toolkit.fluxcd.io/v1beta2"},
		{"get", "--raw", "/openapi/v3/apis/notification.toolkit.fluxcd.io/v1beta2"},
		{"get", "--raw", "/openapi/v2"},
	}
	providers := strings.Fields(mustKubectl(t, "-n", ns, "get", "providers.notification", "-o", "jsonpath={.items[*].metadata.name}", as))
	for _, p := range providers {
		reads = append(reads, []string{"get", "--raw", "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/" + ns + "/providers/" + p + "/status"})
	}
	for _, args := range reads {
		out, err := kubectl(t, append([]string{"-n", ns, as}, args...)...)
		if err != nil {
			t.Errorf("%s could not read: %v", user, err)
		}
		assertNoNeedle(t, user+"'s kubectl "+strings.Join(args, " "), out, needles)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// postAs posts a JSON body to url (through `kubectl proxy`) as user, by
// impersonation, and returns the status code and body of the answer.
func postAs(t *testing.T, user, url, body string) (int, string) {
	t.Helper()
	return postWith(t, user, url, "application/json", []byte(body))
}

// postWith posts body of contentType to url as user (impersonated; the
// proxy's own user when empty), asking for JSON, and returns the answer.
func postWith(t *testing.T, user, url, contentType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.Header.Set("Impersonate-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// TestSecretsOfHelmReleasesAreNotRead: the server does not watch Secrets of
// type helm.sh/release.v1, the largest of most clusters and no Provider's.
// A Provider naming one finds no Secret; one naming an Opaque Secret with
// the same data is Ready.
func TestSecretsOfHelmReleasesAreNotRead(t *testing.T) {
	ns := "e2e-helm-secrets"
	createNamespace(t, ns)
	sink := newRecordingSink(t)
	mustKubectl(t, "-n", ns, "create", "secret", "generic", "usable", "--from-literal=address="+sink.URL+"/hook")
	mustKubectl(t, "-n", ns, "create", "secret", "generic", "release", "--type=helm.sh/release.v1", "--from-literal=address="+sink.URL+"/hook")
	for _, name := range []string{"usable", "release"} {
		mustKubectl(t, "apply", "--server-side", "-f", writeManifest(t, `
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: `+name+`, namespace: `+ns+`}
spec: {type: generic, secretRef: {name: `+name+`}}
`))
	}
	waitFor(t, ns, "provider/usable", "condition=Ready=True")
	waitFor(t, ns, "provider/release", "condition=Ready=False")
	if msg := mustKubectl(t, "-n", ns, "get", "provider", "release", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`); msg != "Secret "+ns+"/release not found" {
		t.Errorf("Ready message %q, want the Helm release Secret not found", msg)
	}
}
