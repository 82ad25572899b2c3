package delivery

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/fake"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
	"github.com/notification-apiserver/notification-apiserver/test/testcert"
)

// newCachedDispatcher returns a dispatcher whose caches hold Alerts,
// Providers and Secrets, without starting informers.
func newCachedDispatcher(tb testing.TB, alerts []*v1beta2.Alert, providers []*v1beta2.Provider, secrets []*corev1.Secret) *Dispatcher {
	tb.Helper()
	client := fake.NewClientset()
	nf := informers.NewSharedInformerFactory(client, 0)
	kf := kubeinformers.NewSharedInformerFactory(kubefake.NewClientset(), 0)
	d, err := New(client, nf, kf, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	add := func(store interface{ Add(any) error }, obj any) {
		if err := store.Add(obj); err != nil {
			tb.Fatal(err)
		}
	}
	for _, a := range alerts {
		add(nf.Notification().V1beta2().Alerts().Informer().GetIndexer(), a)
	}
	for _, p := range providers {
		add(nf.Notification().V1beta2().Providers().Informer().GetIndexer(), p)
	}
	for _, s := range secrets {
		add(kf.Core().V1().Secrets().Informer().GetIndexer(), s)
	}
	return d
}

// clientCertificate is a throwaway ECDSA key pair in PEM.
func clientCertificate(tb testing.TB) (certPEM, keyPEM []byte) {
	c := testcert.New(tb, testcert.Options{CommonName: "notification-apiserver"})
	return c.CertPEM, c.KeyPEM
}

// tlsReceiver is a TLS receiver counting the connections it accepts, and
// a Provider for it whose certSecretRef holds its CA and a client
// certificate.
func tlsReceiver(tb testing.TB) (*httptest.Server, *atomic.Int32, *v1beta2.Provider, *corev1.Secret) {
	tb.Helper()
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	certPEM, keyPEM := clientCertificate(tb)
	tlsSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "tls", UID: "tls-uid", ResourceVersion: "7"},
		Data: map[string][]byte{
			"ca.crt":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
			"tls.crt": certPEM,
			"tls.key": keyPEM,
		},
	}
	provider := &v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"},
		Spec: v1beta2.ProviderSpec{Type: "generic", Address: srv.URL, CertSecretRef: &v1beta2.LocalObjectReference{Name: "tls"}}}
	return srv, &opened, provider, tlsSecret
}

func TestDeliveriesToAProviderReuseOneConnectionAndStillMeetThePolicy(t *testing.T) {
	_, opened, provider, tlsSecret := tlsReceiver(t)
	d := newCachedDispatcher(t, []*v1beta2.Alert{alert(nil)}, []*v1beta2.Provider{provider}, []*corev1.Secret{tlsSecret})
	e := event("info", "reconciliation succeeded")
	for range 50 {
		delivery := v1beta2.Delivery{Alert: "a", Provider: "p", State: Pending}
		d.deliver(context.Background(), e, &delivery)
		if delivery.State != Delivered {
			t.Fatalf("delivery %+v", delivery)
		}
	}
	if n := opened.Load(); n > 2 {
		t.Errorf("50 deliveries opened %d connections, want at most 2", n)
	}

	// The policy is checked before every attempt, connection or not.
	d.opts.AddressPolicy = address.Policy{DenyInternal: true}
	delivery := v1beta2.Delivery{Alert: "a", Provider: "p", State: Pending}
	d.deliver(context.Background(), e, &delivery)
	if delivery.State != Failed || !strings.Contains(delivery.Message, "address policy refuses internal address 127.0.0.1") {
		t.Errorf("delivery %+v, want refused by the policy", delivery)
	}
}

// BenchmarkDeliver posts one event per iteration to a TLS receiver whose
// CA, and a client certificate, come from the Provider's certSecretRef.
func BenchmarkDeliver(b *testing.B) {
	_, _, provider, tlsSecret := tlsReceiver(b)
	d := newCachedDispatcher(b, []*v1beta2.Alert{alert(nil)}, []*v1beta2.Provider{provider}, []*corev1.Secret{tlsSecret})
	e := event("info", "reconciliation succeeded")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		delivery := v1beta2.Delivery{Alert: "a", Provider: "p", State: Pending}
		d.deliver(ctx, e, &delivery)
		if delivery.State != Delivered {
			b.Fatalf("delivery %+v", delivery)
		}
	}
}
