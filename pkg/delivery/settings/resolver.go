package settings

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// maxParsedTLS bounds what a Resolver keeps; past it, it starts over.
const maxParsedTLS = 256

// Resolver resolves Providers like Resolve, and keeps the CA pools and
// client certificates it parsed from certSecretRef Secrets: parsing them
// costs more than the rest of a delivery, and the content of a Secret
// changes only with its resourceVersion.
type Resolver struct {
	mu     sync.Mutex
	parsed map[types.UID]parsedTLS
}

// parsedTLS is what one version of a certSecretRef Secret gave.
type parsedTLS struct {
	resourceVersion   string
	rootCAs           *x509.CertPool
	clientCertificate *tls.Certificate
	digest            [sha256.Size]byte
}

// NewResolver returns a Resolver that keeps nothing yet.
func NewResolver() *Resolver {
	return &Resolver{parsed: map[types.UID]parsedTLS{}}
}

// Resolve is the package's Resolve, with what r parsed before.
func (r *Resolver) Resolve(p *v1beta2.Provider, get SecretGetter) (*Settings, error) {
	return resolve(p, get, r)
}

// lookup returns what the Secret's version gave, if r parsed it.
func (r *Resolver) lookup(secret *corev1.Secret) (parsedTLS, bool) {
	if r == nil || secret.UID == "" || secret.ResourceVersion == "" {
		return parsedTLS{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.parsed[secret.UID]
	return p, ok && p.resourceVersion == secret.ResourceVersion
}

// keep records what the Secret's version gave; one version per Secret.
func (r *Resolver) keep(secret *corev1.Secret, p parsedTLS) {
	if r == nil || secret.UID == "" || secret.ResourceVersion == "" {
		return
	}
	p.resourceVersion = secret.ResourceVersion
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.parsed[secret.UID]; !ok && len(r.parsed) >= maxParsedTLS {
		clear(r.parsed)
	}
	r.parsed[secret.UID] = p
}

// tlsDigest identifies the bytes the TLS settings come from.
func tlsDigest(ca, certPEM, keyPEM []byte) [sha256.Size]byte {
	h := sha256.New()
	for _, b := range [][]byte{ca, certPEM, keyPEM} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}
