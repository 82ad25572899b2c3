package settings

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/test/testcert"
)

const secretValue = "s3cr3t-value"

func secrets(list ...*corev1.Secret) SecretGetter {
	return func(ns, name string) (*corev1.Secret, error) {
		for _, s := range list {
			if s.Namespace == ns && s.Name == name {
				return s, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
	}
}

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func provider(typ, address string, secretRef, certRef string) *v1beta2.Provider {
	p := &v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
		Spec: v1beta2.ProviderSpec{Type: typ, Address: address, Username: "spec-user", Proxy: "http://spec-proxy:3128"}}
	if secretRef != "" {
		p.Spec.SecretRef = &v1beta2.LocalObjectReference{Name: secretRef}
	}
	if certRef != "" {
		p.Spec.CertSecretRef = &v1beta2.LocalObjectReference{Name: certRef}
	}
	return p
}

func TestSecretKeysOverrideTheSpec(t *testing.T) {
	s, err := Resolve(provider("generic", "https://spec.example.com/", "creds", ""), secrets(secret("creds", map[string]string{
		"address":  " https://secret.example.com/hook\n",
		"proxy":    "http://secret-proxy:3128",
		"token":    secretValue + "\n",
		"username": "bot",
		"password": "pw",
		"headers":  "Authorization: Bearer x\nX-Team: platform\n",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if s.Address != "https://secret.example.com/hook" || s.Proxy != "http://secret-proxy:3128" || s.Token != secretValue ||
		s.Username != "bot" || s.Password != "pw" || s.Headers["X-Team"] != "platform" || s.Headers["Authorization"] != "Bearer x" {
		t.Errorf("resolved %+v", s)
	}
}

func TestSpecIsUsedWithoutSecret(t *testing.T) {
	s, err := Resolve(provider("slack", "https://slack.com/api/chat.postMessage", "", ""), secrets())
	if err != nil {
		t.Fatal(err)
	}
	if s.Address != "https://slack.com/api/chat.postMessage" || s.Username != "spec-user" || s.Proxy != "http://spec-proxy:3128" {
		t.Errorf("resolved %+v", s)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name       string
		p          *v1beta2.Provider
		secrets    []*corev1.Secret
		want       string
		invalidURL bool
	}{
		{"a missing Secret", provider("slack", "https://slack.com/api", "absent", ""), nil, "Secret ns/absent not found", false},
		{"a missing CA Secret", provider("slack", "https://slack.com/api", "", "absent"), nil, "Secret ns/absent not found", false},
		{"no address at all", provider("generic", "", "", ""), nil, "no address found", false},
		{"a Secret address that is no URL", provider("generic", "", "s", ""), []*corev1.Secret{secret("s", map[string]string{"address": "no url " + secretValue})}, "invalid address", true},
		{"a Secret proxy that is no URL", provider("generic", "https://h/", "s", ""), []*corev1.Secret{secret("s", map[string]string{"proxy": "ftp://" + secretValue})}, "invalid proxy", true},
		{"a repository address that names no repository", provider("github", "", "s", ""), []*corev1.Secret{secret("s", map[string]string{"address": "https://github.com/" + secretValue, "token": "t"})}, "invalid address for type github", true},
		{"headers that are no map", provider("generic", "https://h/", "s", ""), []*corev1.Secret{secret("s", map[string]string{"headers": "[" + secretValue + "]"})}, "headers key of Secret ns/s", false},
		{"a header name with a colon", provider("generic", "https://h/", "s", ""), []*corev1.Secret{secret("s", map[string]string{"headers": "'a:b': " + secretValue})}, "invalid header name", false},
		{"an HMAC provider without key", provider("generic-hmac", "https://h/", "s", ""), []*corev1.Secret{secret("s", map[string]string{})}, "needs the token key", false},
		{"a bitbucket token without user", provider("bitbucket", "https://bitbucket.org/w/r", "s", ""), []*corev1.Secret{secret("s", map[string]string{"token": secretValue})}, "<username>:<app password>", false},
		{"a token with a line break inside", provider("slack", "https://h/", "s", ""), []*corev1.Secret{secret("s", map[string]string{"token": "a\nb" + secretValue})}, "line break", false},
		{"a CA Secret without keys", provider("generic", "https://h/", "", "ca"), []*corev1.Secret{secret("ca", map[string]string{"other": "x"})}, "has no ca.crt", false},
		{"a CA that is no PEM", provider("generic", "https://h/", "", "ca"), []*corev1.Secret{secret("ca", map[string]string{"ca.crt": secretValue})}, "not valid PEM", false},
		{"a client cert without key", provider("generic", "https://h/", "", "ca"), []*corev1.Secret{secret("ca", map[string]string{"tls.crt": "x"})}, "both tls.crt and tls.key", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve(tc.p, secrets(tc.secrets...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Errorf("error %q shows a Secret value", err)
			}
			if IsInvalidURL(err) != tc.invalidURL {
				t.Errorf("IsInvalidURL = %v, want %v", IsInvalidURL(err), tc.invalidURL)
			}
		})
	}
}

func TestCAAndClientCertificateLoad(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	for _, key := range []string{"ca.crt", "caFile"} {
		s, err := Resolve(provider("generic", "https://h/", "", "ca"), secrets(secret("ca", map[string]string{key: certPEM, "tls.crt": certPEM, "tls.key": keyPEM})))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if s.RootCAs == nil || s.ClientCertificate == nil {
			t.Errorf("%s: CA %v, client certificate %v", key, s.RootCAs != nil, s.ClientCertificate != nil)
		}
	}
}

func TestTelegramNeedsNoAddress(t *testing.T) {
	if _, err := Resolve(provider("telegram", "", "s", ""), secrets(secret("s", map[string]string{"token": "bot-token"}))); err != nil {
		t.Errorf("telegram without address: %v", err)
	}
}

func selfSigned(t testing.TB) (string, string) {
	c := testcert.New(t, testcert.Options{CommonName: "test", CA: true})
	return string(c.CertPEM), string(c.KeyPEM)
}
