package server

import (
	"crypto/x509"
	"net/http"
	"slices"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
)

// frontProxy authenticates the requests of the front proxy (the
// kube-apiserver's aggregation layer) as the request-header authenticator
// does, but verifies the proxy's client certificate once per connection
// rather than on every request: the proxy sends all its requests over a
// few long-lived connections with one certificate, and checking its
// chain (a signature check) was 4.5% of the server's CPU per Event created
// through the aggregation layer. What was verified is verified again when
// the CA bundle changes, when a certificate of the chain is out of its
// validity, and at least every reverifyAfter. The allowed names are
// checked on every request, as they may change. Anything else (no client
// certificate, one that does not verify, a name not allowed, no user in
// the headers) goes to next, the server's own authenticator, which then
// answers as it always did.
type frontProxy struct {
	verifyOptions x509request.VerifyOptionFunc
	allowedNames  headerrequest.StringSliceProvider
	// headers reads the user from the request headers and adds the
	// system:authenticated group, as next does for a front-proxy request.
	headers authenticator.Request
	next    authenticator.Request
	now     func() time.Time

	mu       sync.Mutex
	verified map[*x509.Certificate]verification
	// verifications counts the chains verified (for tests).
	verifications int
}

// verification is a verified chain: the leaf's intermediates as the
// connection presented them, the roots it was verified against, and when
// the verification holds.
type verification struct {
	intermediates []*x509.Certificate
	roots         *x509.CertPool
	from, until   time.Time
}

const (
	// reverifyAfter bounds how long a verification is reused.
	reverifyAfter = time.Minute
	// frontProxyConnections bounds the verifications remembered: a proxy
	// has a handful of connections at a time.
	frontProxyConnections = 64
)

// withFrontProxyVerified puts a frontProxy in front of the server's
// authenticator, when the server trusts a front proxy.
func withFrontProxyVerified(next authenticator.Request, c *authenticatorfactory.RequestHeaderConfig) authenticator.Request {
	if next == nil || c == nil || c.CAContentProvider == nil {
		return next
	}
	return &frontProxy{
		verifyOptions: c.CAContentProvider.VerifyOptions,
		allowedNames:  c.AllowedClientNames,
		headers: group.NewAuthenticatedGroupAdder(headerrequest.NewDynamic(
			c.UsernameHeaders, c.UIDHeaders, c.GroupHeaders, c.ExtraHeaderPrefixes)),
		next:     next,
		now:      time.Now,
		verified: map[*x509.Certificate]verification{},
	}
}

// AuthenticateRequest answers a front-proxy request whose certificate it
// verified, and leaves every other request to next.
func (a *frontProxy) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return a.next.AuthenticateRequest(req)
	}
	opts, ok := a.verifyOptions()
	// Options that fix the time are not this server's: leave them to next.
	if !ok || !opts.CurrentTime.IsZero() {
		return a.next.AuthenticateRequest(req)
	}
	certs := req.TLS.PeerCertificates
	if !a.known(certs, opts.Roots) && !a.verify(certs, opts) {
		return a.next.AuthenticateRequest(req)
	}
	if names := a.allowedNames.Value(); len(names) > 0 && !slices.Contains(names, certs[0].Subject.CommonName) {
		return a.next.AuthenticateRequest(req)
	}
	resp, ok, err := a.headers.AuthenticateRequest(req)
	if err != nil || !ok {
		return a.next.AuthenticateRequest(req)
	}
	return resp, true, nil
}

// known tells whether certs were verified against roots and the
// verification still holds.
func (a *frontProxy) known(certs []*x509.Certificate, roots *x509.CertPool) bool {
	now := a.now()
	a.mu.Lock()
	v, ok := a.verified[certs[0]]
	a.mu.Unlock()
	return ok && v.roots == roots && slices.Equal(v.intermediates, certs[1:]) &&
		!now.Before(v.from) && now.Before(v.until)
}

// verify verifies certs as the request-header authenticator does, and
// remembers the verification when it succeeds.
func (a *frontProxy) verify(certs []*x509.Certificate, opts x509.VerifyOptions) bool {
	now := a.now()
	opts.CurrentTime = now
	if opts.Intermediates == nil && len(certs) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	chains, err := certs[0].Verify(opts)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.verifications++
	if err != nil || len(chains) == 0 {
		return false
	}
	v := verification{intermediates: slices.Clone(certs[1:]), roots: opts.Roots, until: now.Add(reverifyAfter)}
	for _, c := range chains[0] {
		if c.NotBefore.After(v.from) {
			v.from = c.NotBefore
		}
		if c.NotAfter.Before(v.until) {
			v.until = c.NotAfter
		}
	}
	if len(a.verified) >= frontProxyConnections {
		clear(a.verified)
	}
	a.verified[certs[0]] = v
	return true
}
