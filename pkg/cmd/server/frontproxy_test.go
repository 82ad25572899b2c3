package server

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"

	"github.com/notification-apiserver/notification-apiserver/test/testcert"
)

// countingAuth refuses every request and counts them: the server's own
// authenticator, as far as these tests go.
type countingAuth struct{ calls int }

func (c *countingAuth) AuthenticateRequest(*http.Request) (*authenticator.Response, bool, error) {
	c.calls++
	return nil, false, nil
}

func proxied(certs ...*x509.Certificate) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/apis", nil)
	req.Header.Set("X-Remote-User", "alice")
	req.Header.Set("X-Remote-Group", "devs")
	if len(certs) > 0 {
		req.TLS = &tls.ConnectionState{PeerCertificates: certs}
	}
	return req
}

func TestTheFrontProxyIsVerifiedOncePerCertificateAndAnsweredAsTheRequestHeaderAuthenticatorWould(t *testing.T) {
	start := time.Now()
	ca := testcert.New(t, testcert.Options{CommonName: "front-proxy-ca", CA: true})
	leaf := testcert.New(t, testcert.Options{CommonName: "front-proxy-client", NotAfter: start.Add(2 * time.Hour), Issuer: ca}).Cert
	stranger := testcert.New(t, testcert.Options{CommonName: "front-proxy-client",
		Issuer: testcert.New(t, testcert.Options{CommonName: "other-ca", CA: true})}).Cert

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	verifyOptions := func() (x509.VerifyOptions, bool) {
		return x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, true
	}
	names := headerrequest.StaticStringSlice{"front-proxy-client"}
	users, groups := headerrequest.StaticStringSlice{"X-Remote-User"}, headerrequest.StaticStringSlice{"X-Remote-Group"}
	extra, uids := headerrequest.StaticStringSlice{"X-Remote-Extra-"}, headerrequest.StaticStringSlice{"X-Remote-Uid"}
	// What the server's authenticator answers for a front-proxy request.
	reference := group.NewAuthenticatedGroupAdder(headerrequest.NewDynamicVerifyOptionsSecure(verifyOptions, names, users, uids, groups, extra))
	next := &countingAuth{}
	clock := start
	a := &frontProxy{
		verifyOptions: verifyOptions, allowedNames: &names,
		headers:  group.NewAuthenticatedGroupAdder(headerrequest.NewDynamic(users, uids, groups, extra)),
		next:     next,
		now:      func() time.Time { return clock },
		verified: map[*x509.Certificate]verification{},
	}
	want, ok, err := reference.AuthenticateRequest(proxied(leaf))
	if err != nil || !ok {
		t.Fatalf("the request-header authenticator refused the proxy: %v", err)
	}
	authenticated := func(what string, req *http.Request, verifications int) {
		t.Helper()
		calls := next.calls
		got, ok, err := a.AuthenticateRequest(req)
		if err != nil || !ok || !reflect.DeepEqual(got.User, want.User) {
			t.Errorf("%s: got %v, %v, %v; want %v", what, got, ok, err, want.User)
		}
		if req.Header.Get("X-Remote-User") != "" {
			t.Errorf("%s: the authentication headers were left on the request", what)
		}
		if next.calls != calls || a.verifications != verifications {
			t.Errorf("%s: %d chains verified (want %d), next asked %d times", what, a.verifications, verifications, next.calls-calls)
		}
	}
	leftToNext := func(what string, req *http.Request) {
		t.Helper()
		calls := next.calls
		if got, ok, _ := a.AuthenticateRequest(req); ok || next.calls != calls+1 {
			t.Errorf("%s: answered %v, %v without the server's authenticator", what, got, ok)
		}
	}

	authenticated("the first request", proxied(leaf), 1)
	authenticated("the second request on the same certificate", proxied(leaf), 1)
	clock = start.Add(reverifyAfter - time.Second)
	authenticated("within the minute", proxied(leaf), 1)
	clock = start.Add(reverifyAfter + time.Second)
	authenticated("after the minute", proxied(leaf), 2)

	roots = x509.NewCertPool()
	roots.AddCert(ca.Cert)
	authenticated("a new CA bundle", proxied(leaf), 3)

	names = headerrequest.StaticStringSlice{"someone-else"}
	leftToNext("a name no longer allowed", proxied(leaf))
	names = headerrequest.StaticStringSlice{"front-proxy-client"}

	leftToNext("a certificate of another CA", proxied(stranger))
	leftToNext("no client certificate", proxied())
	noUser := proxied(leaf)
	noUser.Header.Del("X-Remote-User")
	leftToNext("no user in the headers", noUser)

	clock = leaf.NotAfter.Add(time.Second)
	leftToNext("an expired certificate", proxied(leaf))
	clock = start.Add(3 * reverifyAfter)
	authenticated("back within its validity", proxied(leaf), a.verifications+1)
}
