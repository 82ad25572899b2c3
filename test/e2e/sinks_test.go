package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
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
	pair, err := tls.X509KeyPair(cert.certPEM, cert.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		cfg.ClientCAs = clientCA.pool()
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
type certificate struct {
	cert            *x509.Certificate
	key             *ecdsa.PrivateKey
	certPEM, keyPEM []byte
}

// newCertificate makes a certificate named commonName, for serving and
// for clients: self-signed when issuer is nil, else signed by issuer.
func newCertificate(t *testing.T, commonName string, issuer *certificate, isCA bool) *certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if isCA {
		template.KeyUsage |= x509.KeyUsageCertSign
	}
	parent, signer := template, key
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificate{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// pool is a pool holding only c.
func (c *certificate) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}
