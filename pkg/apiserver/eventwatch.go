package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
)

// listWatchStorage is a resource's storage as the informers read it.
type listWatchStorage interface {
	rest.Lister
	rest.Watcher
}

// inProcess lists and watches a resource straight from the server's own
// storage, for its informers: each object reaches them decoded once (from
// etcd, or from the watch cache), where a watch through the loopback
// client had the server encode it and the client decode it again, with
// the whole request chain, TLS and HTTP/2 framing between. The objects are
// v1beta2, as the client gives.
type inProcess struct {
	// storage is the resource's storage; nil until the server has built it.
	storage func() listWatchStorage
	// newList and newObject make the v1beta2 list and object.
	newList, newObject func() runtime.Object
}

// errNotServing: an informer started before the storage was built; its
// reflector retries.
var errNotServing = errors.New("the server's storage is not built yet")

func (l inProcess) options(opts metav1.ListOptions) (*metainternalversion.ListOptions, error) {
	out := &metainternalversion.ListOptions{}
	if err := metainternalversion.Convert_v1_ListOptions_To_internalversion_ListOptions(&opts, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// ListWithContext lists the objects of every namespace.
func (l inProcess) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	storage := l.storage()
	if storage == nil {
		return nil, errNotServing
	}
	options, err := l.options(opts)
	if err != nil {
		return nil, err
	}
	obj, err := storage.List(genericapirequest.WithNamespace(ctx, metav1.NamespaceAll), options)
	if err != nil {
		return nil, err
	}
	out := l.newList()
	if err := Scheme.Convert(obj, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// WatchWithContext watches the objects of every namespace until ctx ends
// or the watch is stopped.
func (l inProcess) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	storage := l.storage()
	if storage == nil {
		return nil, errNotServing
	}
	options, err := l.options(opts)
	if err != nil {
		return nil, err
	}
	w, err := storage.Watch(genericapirequest.WithNamespace(ctx, metav1.NamespaceAll), options)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(in watch.Event) (watch.Event, bool) {
		if _, ok := in.Object.(*metav1.Status); ok {
			return in, true // an error
		}
		obj := in.Object
		if c, ok := obj.(runtime.CacheableObject); ok {
			// The watch cache wraps what it sends to several watchers.
			obj = c.GetObject()
		}
		out := l.newObject()
		if err := Scheme.Convert(obj, out, nil); err != nil {
			return watch.Event{Type: watch.Error, Object: &metav1.Status{
				Status: metav1.StatusFailure, Code: 500, Message: fmt.Sprintf("converting a %T: %v", obj, err),
			}}, true
		}
		in.Object = out
		return in, true
	}), nil
}

// List and Watch are the context-free forms client-go still asks for.
func (l inProcess) List(opts metav1.ListOptions) (runtime.Object, error) {
	return l.ListWithContext(context.Background(), opts)
}

func (l inProcess) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return l.WatchWithContext(context.Background(), opts)
}

// IsWatchListSemanticsUnSupported: the reflector lists, then watches (the
// Events have no watch cache to stream the initial list from).
func (inProcess) IsWatchListSemanticsUnSupported() bool { return true }

// eventsInProcess reads the Events' storage, for the delivery loop.
func eventsInProcess(events listWatchStorage) inProcess {
	return inProcess{
		storage:   func() listWatchStorage { return events },
		newList:   func() runtime.Object { return &v1beta2.EventList{} },
		newObject: func() runtime.Object { return &v1beta2.Event{} },
	}
}

// LocalInformers feed the Provider and Alert informers of a factory (the
// reconciler's, the delivery loop's and the admission plugin's) from the
// server's own storage, once New has built it.
type LocalInformers struct {
	providers, alerts atomic.Pointer[listWatchStorage]
}

// NewLocalInformers registers the Provider and Alert informers of f, to be
// fed by the server that gets the returned LocalInformers in its
// ExtraConfig. Call it before anything asks f for those informers.
func NewLocalInformers(f informers.SharedInformerFactory) *LocalInformers {
	l := &LocalInformers{}
	indexers := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	register := func(obj runtime.Object, storage *atomic.Pointer[listWatchStorage], newList func() runtime.Object) {
		lw := inProcess{storage: load(storage), newList: newList, newObject: func() runtime.Object { return obj.DeepCopyObject() }}
		f.InformerFor(obj, func(_ versioned.Interface, resync time.Duration) cache.SharedIndexInformer {
			return cache.NewSharedIndexInformer(lw, obj, resync, indexers)
		})
	}
	register(&v1beta2.Provider{}, &l.providers, func() runtime.Object { return &v1beta2.ProviderList{} })
	register(&v1beta2.Alert{}, &l.alerts, func() runtime.Object { return &v1beta2.AlertList{} })
	return l
}

func load(p *atomic.Pointer[listWatchStorage]) func() listWatchStorage {
	return func() listWatchStorage {
		if s := p.Load(); s != nil {
			return *s
		}
		return nil
	}
}

// bind gives the informers the storages to read.
func (l *LocalInformers) bind(providers, alerts listWatchStorage) {
	if l == nil {
		return
	}
	l.providers.Store(&providers)
	l.alerts.Store(&alerts)
}
