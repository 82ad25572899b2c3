// Package inprocess writes the status the server computes straight into
// its own storage: no HTTP round trip, authentication, flow control,
// serialization or managed-fields tracking, which cost more than the write
// itself on the delivery path.
package inprocess

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// UpdateStatus writes a status through a /status storage: set copies the
// status onto the stored object (internal version). The write applies to
// the object with uid whatever its resourceVersion: the server owns the
// status, and the storage retries on conflicts with the latest object.
func UpdateStatus(ctx context.Context, status rest.Updater, namespace, name string, uid types.UID, set func(stored runtime.Object) error) (runtime.Object, error) {
	ctx = genericapirequest.WithNamespace(ctx, namespace)
	obj, _, err := status.Update(ctx, name, statusInfo{uid: uid, set: set},
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	return obj, err
}

type statusInfo struct {
	uid types.UID
	set func(runtime.Object) error
}

func (i statusInfo) Preconditions() *metav1.Preconditions {
	if i.uid == "" {
		return nil
	}
	return &metav1.Preconditions{UID: &i.uid}
}

func (i statusInfo) UpdatedObject(_ context.Context, old runtime.Object) (runtime.Object, error) {
	updated := old.DeepCopyObject()
	if err := i.set(updated); err != nil {
		return nil, err
	}
	return updated, nil
}
