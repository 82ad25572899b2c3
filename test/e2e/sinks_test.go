package e2e

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/test/testcert"
)

// recordingSink is a receiver on loopback that records the paths it is
// sent and answers with its handler (200 by default).
type recordingSink struct {
	*httptest.Server
	mu       sync.Mutex
	received []string
	handler  http.HandlerFunc
}

func newRecordingSink(t *testing.T) *recordingSink {
	return newRecordingSinkFunc(t, nil)
}

func newRecordingSinkFunc(t *testing.T, handler http.HandlerFunc) *recordingSink {
	t.Helper()
	s := &recordingSink{handler: handler}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *recordingSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.received = append(s.received, r.URL.Path)
	s.mu.Unlock()
	if s.handler != nil {
		s.handler(w, r)
	}
}

func (s *recordingSink) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

// tlsConfigOf is a server configuration presenting cert, and requiring a
// client certificate from clientCA when given.
func tlsConfigOf(t *testing.T, cert *certificate, clientCA *certificate) *tls.Config {
	t.Helper()
	pair, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		cfg.ClientCAs = clientCA.Pool()
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

// newTLSSink is a recordingSink over TLS presenting cert, and requiring a
// client certificate signed by clientCA when given.
func newTLSSink(t *testing.T, cert, clientCA *certificate) *recordingSink {
	return newTLSSinkFunc(t, cert, clientCA, nil)
}

func newTLSSinkFunc(t *testing.T, cert, clientCA *certificate, handler http.HandlerFunc) *recordingSink {
	t.Helper()
	s := &recordingSink{handler: handler}
	s.Server = httptest.NewUnstartedServer(s)
	s.Server.TLS = tlsConfigOf(t, cert, clientCA)
	// Refused handshakes are what some tests are after: keep them quiet.
	s.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Server.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// certificate is a certificate for 127.0.0.1 and localhost, with its key.
type certificate = testcert.Certificate

// newCertificate makes a certificate named commonName, for serving and
// for clients: self-signed when issuer is nil, else signed by issuer.
func newCertificate(t *testing.T, commonName string, issuer *certificate, isCA bool) *certificate {
	return testcert.New(t, testcert.Options{CommonName: commonName, Issuer: issuer, CA: isCA})
}
