package integration

import (
	"crypto/tls"
	"net/url"
	"testing"
)

// The server speaks HTTP/1.1 only, even to a client that offers HTTP/2
// first, as the kube-apiserver's proxy does: its HTTP/1.1 server costs it
// less per request (pkg/cmd/server, NewOptions).
func TestTheServerAnswersAClientOfferingHTTP2InHTTP11(t *testing.T) {
	u, err := url.Parse(clientConfig.Host)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{
		InsecureSkipVerify: true, // the test server's self-signed certificate
		NextProtos:         []string{"h2", "http/1.1"},
	})
	if err != nil {
		t.Fatalf("dialing %s: %v", u.Host, err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
		t.Errorf("negotiated protocol %q, want http/1.1", got)
	}
}
