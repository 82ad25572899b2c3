package apiserver

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"
)

// When etcd does not answer, k8s.io/apiserver ends a request at its
// deadline twice at once: the storage call fails as its context expires,
// and the timeout filter fires. When the handler has begun to write the
// storage error, the filter can only reset the stream (HTTP/2
// INTERNAL_ERROR, an EOF on HTTP/1; kubernetes/kubernetes#98606): the
// client gets no status at all, most of the time in an etcd outage. So
// the storage calls of a request end a little before its deadline, and
// the handler answers 504 Timeout alone.
const (
	minDeadlineMargin = 100 * time.Millisecond
	maxDeadlineMargin = time.Second
)

// earlyDeadlines gives every resource's storage the early deadline.
type earlyDeadlines struct {
	generic.RESTOptionsGetter
}

func (g earlyDeadlines) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil || opts.Decorator == nil {
		return opts, err
	}
	decorate := opts.Decorator
	opts.Decorator = func(config *storagebackend.ConfigForResource, resourcePrefix string,
		keyFunc func(obj runtime.Object) (string, error), newFunc, newListFunc func() runtime.Object,
		getAttrs storage.AttrFunc, trigger storage.IndexerFuncs, indexers *cache.Indexers,
	) (storage.Interface, factory.DestroyFunc, error) {
		s, destroy, err := decorate(config, resourcePrefix, keyFunc, newFunc, newListFunc, getAttrs, trigger, indexers)
		if err != nil {
			return s, destroy, err
		}
		return earlyDeadlineStorage{s}, destroy, nil
	}
	return opts, nil
}

// earlyDeadlineStorage ends the calls that answer a request before the
// request's deadline. Calls without a deadline (watches, the delivery
// loop's status writes) are left as they are.
type earlyDeadlineStorage struct {
	storage.Interface
}

// early returns ctx ending a tenth of the time left before ctx's deadline
// (at least minDeadlineMargin, at most maxDeadlineMargin), and a function
// that tells a storage error caused by that earlier end as a 504.
func early(ctx context.Context) (context.Context, context.CancelFunc, func(error) error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}, func(err error) error { return err }
	}
	margin := min(max(time.Until(deadline)/10, minDeadlineMargin), maxDeadlineMargin)
	short, cancel := context.WithDeadline(ctx, deadline.Add(-margin))
	explain := func(err error) error {
		if err == nil || short.Err() == nil || ctx.Err() != nil {
			return err
		}
		// The storage's own verdicts stand, even when they came late.
		if _, isStatus := err.(apierrors.APIStatus); isStatus ||
			storage.IsNotFound(err) || storage.IsExist(err) || storage.IsConflict(err) || storage.IsInvalidObj(err) {
			return err
		}
		return apierrors.NewTimeoutError(fmt.Sprintf("the storage did not answer before the request's deadline: %v", err), 0)
	}
	return short, cancel, explain
}

func (s earlyDeadlineStorage) Create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64) error {
	ctx, cancel, explain := early(ctx)
	defer cancel()
	return explain(s.Interface.Create(ctx, key, obj, out, ttl))
}

func (s earlyDeadlineStorage) Delete(ctx context.Context, key string, out runtime.Object, preconditions *storage.Preconditions,
	validateDeletion storage.ValidateObjectFunc, cachedExistingObject runtime.Object, opts storage.DeleteOptions,
) error {
	ctx, cancel, explain := early(ctx)
	defer cancel()
	return explain(s.Interface.Delete(ctx, key, out, preconditions, validateDeletion, cachedExistingObject, opts))
}

func (s earlyDeadlineStorage) Get(ctx context.Context, key string, opts storage.GetOptions, objPtr runtime.Object) error {
	ctx, cancel, explain := early(ctx)
	defer cancel()
	return explain(s.Interface.Get(ctx, key, opts, objPtr))
}

func (s earlyDeadlineStorage) GetList(ctx context.Context, key string, opts storage.ListOptions, listObj runtime.Object) error {
	ctx, cancel, explain := early(ctx)
	defer cancel()
	return explain(s.Interface.GetList(ctx, key, opts, listObj))
}

func (s earlyDeadlineStorage) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool,
	preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object,
) error {
	ctx, cancel, explain := early(ctx)
	defer cancel()
	return explain(s.Interface.GuaranteedUpdate(ctx, key, destination, ignoreNotFound, preconditions, tryUpdate, cachedExistingObject))
}
