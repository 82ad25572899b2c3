package server

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeinformers "k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// withoutManagedFields drops the managed fields of the objects the
// server's informers keep: the reconciler, the delivery loop and the
// admission plugin read the spec and status of Providers and Alerts, and
// the data of Secrets, never who set which field. Status goes back
// in-process onto the stored object, or through UpdateStatus, where empty
// managed fields leave the stored ones as they are. With 10,000 Providers
// and 10,000 Alerts, the managed fields of the informers' copies were
// 5.5 MB of the live heap. The watch cache keeps them: it serves GETs and
// LISTs.
func withoutManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// stripSecretsManagedFields sets withoutManagedFields on the cluster-wide
// Secret informer of the Kubernetes informers, which the reconciler, the
// delivery loop and the admission plugin share. Call it before the
// factory starts.
func stripSecretsManagedFields(f kubeinformers.SharedInformerFactory) error {
	if f == nil {
		return nil
	}
	return f.Core().V1().Secrets().Informer().SetTransform(cache.TransformFunc(withoutManagedFields))
}

// secretSelector leaves Helm's release records out of the Secret
// informer: they are the largest Secrets of most clusters (a compressed
// copy of every manifest of a release, for each of its last revisions, up
// to 1 MiB each), and no Provider can use one (a single key, release).
const secretSelector = "type!=helm.sh/release.v1"

// watchUsableSecrets registers the Secret informer of f, which the
// reconciler, the delivery loop and the admission plugin share, as one
// that leaves out what secretSelector does. Call it before anything asks
// f for Secrets: a factory keeps the first informer of a type.
func watchUsableSecrets(f kubeinformers.SharedInformerFactory) {
	if f == nil {
		return
	}
	f.InformerFor(&corev1.Secret{}, func(client kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return coreinformers.NewFilteredSecretInformer(client, metav1.NamespaceAll, resync,
			cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
			func(o *metav1.ListOptions) { o.FieldSelector = secretSelector })
	})
}
