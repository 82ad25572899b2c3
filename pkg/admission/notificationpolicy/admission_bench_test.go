package notificationpolicy

import (
	"context"
	"net"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/validation"
)

// publicResolver answers every name with a public address, so that the
// benchmarks measure the policy and not DNS.
type publicResolver struct{}

func (publicResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.ParseIP("93.184.216.34")}}, nil
}

// benchProvider is a Provider as users write them: an address, a proxy,
// a timeout and a Secret with the token.
func benchProvider(typ, addr string) *notification.Provider {
	return &notification.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "x", Labels: map[string]string{"app.kubernetes.io/part-of": "flux"}},
		Spec: notification.ProviderSpec{
			Type: typ, Address: addr, Channel: "deployments", Username: "flux",
			Proxy:     "https://proxy.example.com:3128",
			Timeout:   &metav1.Duration{Duration: 15 * time.Second},
			SecretRef: &notification.LocalObjectReference{Name: "present"},
		},
	}
}

// benchmarkAdmit runs what a create of the Provider runs: the strategy's
// validation, then the admission plugin, and each on its own.
func benchmarkAdmit(b *testing.B, obj *notification.Provider, valid bool) {
	p := newPlugin(b, address.Policy{DenyInternal: true, RequireHTTPS: true, Resolver: publicResolver{}})
	strategy := func() bool { return len(validation.ValidateProvider(obj)) == 0 }
	admit := func() bool {
		_, err := validate(b, p, obj, "")
		if err != nil && !apierrors.IsInvalid(err) {
			b.Fatal(err)
		}
		return err == nil
	}
	for _, bc := range []struct {
		name string
		run  func() bool
	}{
		{"strategy", strategy},
		{"admission", admit},
		{"both", func() bool { return strategy() && admit() }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bc.run() != valid {
					b.Fatalf("valid %v, want %v", !valid, valid)
				}
			}
		})
	}
}

func BenchmarkAdmitValidProvider(b *testing.B) {
	benchmarkAdmit(b, benchProvider("github", "https://github.com/fluxcd/podinfo"), true)
}

// BenchmarkAdmitInvalidProvider: a github address without a repository,
// which both the strategy and the address policy refuse.
func BenchmarkAdmitInvalidProvider(b *testing.B) {
	benchmarkAdmit(b, benchProvider("github", "https://github.com/fluxcd"), false)
}
