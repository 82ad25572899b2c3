package settings

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// tlsSecret returns a getter of a certSecretRef Secret "tls" as an
// informer gives it: with a UID and a resourceVersion.
func tlsSecret(resourceVersion string, data map[string]string) SecretGetter {
	s := secret("tls", data)
	s.UID, s.ResourceVersion = types.UID("tls-uid"), resourceVersion
	return secrets(s)
}

func keyPair(tb testing.TB) map[string]string {
	certPEM, keyPEM := selfSigned(tb)
	return map[string]string{"ca.crt": certPEM, "tls.crt": certPEM, "tls.key": keyPEM}
}

func TestTheResolverParsesAVersionOfACertSecretOnce(t *testing.T) {
	r := NewResolver()
	p := provider("generic", "https://h/", "", "tls")
	get := tlsSecret("1", keyPair(t))
	first, err := r.Resolve(p, get)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Resolve(p, get)
	if err != nil {
		t.Fatal(err)
	}
	if again.RootCAs != first.RootCAs || again.ClientCertificate != first.ClientCertificate || again.TLSDigest != first.TLSDigest {
		t.Error("the same version of the Secret was parsed again")
	}

	next, err := r.Resolve(p, tlsSecret("2", keyPair(t)))
	if err != nil {
		t.Fatal(err)
	}
	if next.RootCAs == first.RootCAs || next.ClientCertificate == first.ClientCertificate || next.TLSDigest == first.TLSDigest {
		t.Error("a new version of the Secret got the old certificates")
	}
	if next.RootCAs.Equal(first.RootCAs) {
		t.Error("a new CA gave an equal pool")
	}
}

func TestTheResolverReportsABrokenNewVersion(t *testing.T) {
	r := NewResolver()
	p := provider("generic", "https://h/", "", "tls")
	if _, err := r.Resolve(p, tlsSecret("1", keyPair(t))); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(p, tlsSecret("2", map[string]string{"ca.crt": "not PEM"})); err == nil {
		t.Error("a broken new version resolved with the old certificates")
	}
}

func TestTheResolverKeepsNothingOfSecretsWithoutAVersion(t *testing.T) {
	r := NewResolver()
	p := provider("generic", "https://h/", "", "tls")
	get := secrets(secret("tls", keyPair(t)))
	first, err := r.Resolve(p, get)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Resolve(p, get)
	if err != nil {
		t.Fatal(err)
	}
	if again.RootCAs == first.RootCAs {
		t.Error("a Secret without UID and resourceVersion was taken from what the resolver kept")
	}
	if again.TLSDigest != first.TLSDigest {
		t.Error("the same bytes gave different digests")
	}
}

func TestTheResolverKeepsABoundedNumberOfSecrets(t *testing.T) {
	r := NewResolver()
	data := keyPair(t)
	for i := range maxParsedTLS + 10 {
		s := secret(fmt.Sprintf("tls-%d", i), data)
		s.UID, s.ResourceVersion = types.UID(s.Name), "1"
		if _, err := r.Resolve(provider("generic", "https://h/", "", s.Name), secrets(s)); err != nil {
			t.Fatal(err)
		}
		if len(r.parsed) > maxParsedTLS {
			t.Fatalf("%d Secrets kept, want at most %d", len(r.parsed), maxParsedTLS)
		}
	}
}

func TestTheTLSDigestDependsOnEveryPart(t *testing.T) {
	base := tlsDigest([]byte("ca"), []byte("crt"), []byte("key"))
	for _, other := range [][3]string{{"ca", "crt", "kez"}, {"ca", "crtkey", ""}, {"", "cacrt", "key"}, {"cb", "crt", "key"}} {
		if tlsDigest([]byte(other[0]), []byte(other[1]), []byte(other[2])) == base {
			t.Errorf("%q has the digest of ca, crt, key", other)
		}
	}
}

func BenchmarkResolveWithCertSecret(b *testing.B) {
	p := provider("generic", "https://h/", "", "tls")
	get := tlsSecret("1", keyPair(b))
	for _, bc := range []struct {
		name    string
		resolve func(*v1beta2.Provider, SecretGetter) (*Settings, error)
	}{{"parsing", Resolve}, {"resolver", NewResolver().Resolve}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.resolve(p, get); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
