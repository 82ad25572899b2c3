package delivery

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// KubeLabels reads an involved object's labels from the Kubernetes API with
// a metadata-only GET, finding its resource through discovery.
func KubeLabels(cfg *rest.Config) (LabelsFunc, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, io v1beta2.ObjectReference) (map[string]string, error) {
		gv, err := schema.ParseGroupVersion(io.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("invalid apiVersion: %w", err)
		}
		mapping, err := mapper.RESTMapping(gv.WithKind(io.Kind).GroupKind(), gv.Version)
		if err != nil {
			mapper.Reset() // a kind installed since the last discovery
			if mapping, err = mapper.RESTMapping(gv.WithKind(io.Kind).GroupKind(), gv.Version); err != nil {
				return nil, err
			}
		}
		obj, err := mc.Resource(mapping.Resource).Namespace(io.Namespace).Get(ctx, io.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return obj.Labels, nil
	}, nil
}
