// Package settings resolves what a Provider sends with: its spec merged
// with the keys of its Secrets, checked. The reconciler uses it to compute
// the Provider's Ready condition; delivery uses it to build requests, so
// a Provider that is Ready is one that delivery can use.
package settings

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/validation"
)

// Settings are a Provider's effective settings. They hold secrets: never
// log or print them.
type Settings struct {
	Type     string
	Address  string
	Channel  string
	Username string
	Password string
	Proxy    string
	Token    string
	Headers  map[string]string
	// RootCAs is set when certSecretRef gives a CA: it replaces the system roots.
	RootCAs *x509.CertPool
	// ClientCertificate is set when certSecretRef gives tls.crt and tls.key.
	ClientCertificate *tls.Certificate
	// TLSDigest identifies the bytes RootCAs and ClientCertificate come
	// from, so that Providers with the same ones can share connections;
	// zero when neither is set. It is a digest of a private key: never
	// log it either.
	TLSDigest [sha256.Size]byte
	// Data is the whole Secret, for type-specific keys.
	Data map[string][]byte
}

// SecretGetter reads a Secret in a namespace.
type SecretGetter func(namespace, name string) (*corev1.Secret, error)

// InvalidURLError is a malformed address or proxy: only a change of the
// spec or Secret fixes it, so it is not retried.
type InvalidURLError struct{ msg string }

func (e *InvalidURLError) Error() string { return e.msg }

// IsInvalidURL tells whether err is an InvalidURLError.
func IsInvalidURL(err error) bool {
	var e *InvalidURLError
	return errors.As(err, &e)
}

// typesWithoutAddress do not need an address: Telegram and Opsgenie have a
// public API base by default.
var typesWithoutAddress = map[string]bool{"telegram": true, "opsgenie": true}

// typesRequiringToken cannot authenticate without the Secret's token.
var typesRequiringToken = map[string]string{
	"generic-hmac":   "the HMAC key",
	"telegram":       "the bot token",
	"opsgenie":       "the API key",
	"datadog":        "the API key",
	"gitlab":         "the access token",
	"gitea":          "the access token",
	"bitbucket":      "<username>:<app password>",
	"githubdispatch": "a personal access token",
	"github":         "a personal access token",
	"azuredevops":    "a personal access token",
}

// Resolve merges the Provider's spec with its Secrets and checks the result.
// Errors name Secrets and keys, never values.
func Resolve(p *v1beta2.Provider, get SecretGetter) (*Settings, error) {
	return resolve(p, get, nil)
}

// resolve is Resolve, reusing what r parsed when r is not nil.
func resolve(p *v1beta2.Provider, get SecretGetter, r *Resolver) (*Settings, error) {
	s := &Settings{
		Type:     p.Spec.Type,
		Address:  p.Spec.Address,
		Channel:  p.Spec.Channel,
		Username: p.Spec.Username,
		Proxy:    p.Spec.Proxy,
	}
	if ref := p.Spec.SecretRef; ref != nil {
		secret, err := getSecret(get, p.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		if err := s.fromSecret(secret); err != nil {
			return nil, err
		}
	}
	if ref := p.Spec.CertSecretRef; ref != nil {
		secret, err := getSecret(get, p.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		if err := s.tlsFromSecret(secret, r); err != nil {
			return nil, err
		}
	}
	if s.Address == "" && !typesWithoutAddress[s.Type] {
		return nil, errors.New("no address found in spec.address nor in the Secret of spec.secretRef")
	}
	if s.Address != "" {
		if err := validation.ValidateAddress(s.Type, s.Address); err != nil {
			return nil, &InvalidURLError{fmt.Sprintf("invalid address for type %s: %v", s.Type, err)}
		}
	}
	if s.Proxy != "" {
		if _, err := address.ParseHTTPURL(s.Proxy); err != nil {
			return nil, &InvalidURLError{fmt.Sprintf("invalid proxy: %v", err)}
		}
	}
	if what, ok := typesRequiringToken[s.Type]; ok && s.Token == "" {
		return nil, fmt.Errorf("type %s needs the token key (%s) in the Secret of spec.secretRef", s.Type, what)
	}
	if s.Type == "bitbucket" && strings.Count(s.Token, ":") != 1 {
		return nil, errors.New("type bitbucket needs a token of the form <username>:<app password>")
	}
	return s, nil
}

func getSecret(get SecretGetter, namespace, name string) (*corev1.Secret, error) {
	secret, err := get(namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("Secret %s/%s not found", namespace, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, name, err)
	}
	return secret, nil
}

func (s *Settings) fromSecret(secret *corev1.Secret) error {
	where := fmt.Sprintf("Secret %s/%s", secret.Namespace, secret.Name)
	s.Data = secret.Data
	if v, ok := secret.Data["address"]; ok {
		s.Address = strings.TrimSpace(string(v))
		if len(s.Address) > validation.MaxStringLength {
			return &InvalidURLError{fmt.Sprintf("the address key of %s exceeds %d bytes", where, validation.MaxStringLength)}
		}
	}
	if v, ok := secret.Data["proxy"]; ok {
		s.Proxy = strings.TrimSpace(string(v))
	}
	if v, ok := secret.Data["token"]; ok {
		s.Token = strings.TrimSpace(string(v))
	}
	user, hasUser := secret.Data["username"]
	pass, hasPass := secret.Data["password"]
	if hasUser {
		s.Username = string(user)
	}
	if hasPass {
		s.Password = string(pass)
	}
	if v, ok := secret.Data["headers"]; ok {
		headers := map[string]string{}
		if err := yaml.Unmarshal(v, &headers); err != nil {
			return fmt.Errorf("the headers key of %s is not a YAML map of header names to values", where)
		}
		for name := range headers {
			if name == "" || strings.ContainsAny(name, " \t\r\n:") {
				return fmt.Errorf("the headers key of %s holds an invalid header name", where)
			}
		}
		s.Headers = headers
	}
	for key, value := range map[string]string{"token": s.Token, "username": s.Username, "password": s.Password} {
		if strings.ContainsAny(value, "\r\n") {
			return fmt.Errorf("the %s key of %s holds a line break", key, where)
		}
	}
	return nil
}

func (s *Settings) tlsFromSecret(secret *corev1.Secret, r *Resolver) error {
	// Only what parsed is kept, so a version kept passes every check below.
	if parsed, ok := r.lookup(secret); ok {
		s.RootCAs, s.ClientCertificate, s.TLSDigest = parsed.rootCAs, parsed.clientCertificate, parsed.digest
		return nil
	}
	where := fmt.Sprintf("Secret %s/%s", secret.Namespace, secret.Name)
	ca := secret.Data["ca.crt"]
	if len(ca) == 0 {
		ca = secret.Data["caFile"]
	}
	certPEM, keyPEM := secret.Data["tls.crt"], secret.Data["tls.key"]
	if len(ca) == 0 && len(certPEM) == 0 && len(keyPEM) == 0 {
		return fmt.Errorf("%s has no ca.crt (or caFile) nor tls.crt and tls.key", where)
	}
	var parsed parsedTLS
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return fmt.Errorf("the CA certificate in %s is not valid PEM", where)
		}
		parsed.rootCAs = pool
	}
	if (len(certPEM) == 0) != (len(keyPEM) == 0) {
		return fmt.Errorf("%s must hold both tls.crt and tls.key, or neither", where)
	}
	if len(certPEM) > 0 {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return fmt.Errorf("the client certificate in %s does not load", where)
		}
		parsed.clientCertificate = &cert
	}
	parsed.digest = tlsDigest(ca, certPEM, keyPEM)
	r.keep(secret, parsed)
	s.RootCAs, s.ClientCertificate, s.TLSDigest = parsed.rootCAs, parsed.clientCertificate, parsed.digest
	return nil
}
