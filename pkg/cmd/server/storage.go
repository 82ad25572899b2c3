package server

import (
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/kubernetes"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericfeatures "k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/generic"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage"
	cacherstorage "k8s.io/apiserver/pkg/storage/cacher"
	"k8s.io/apiserver/pkg/storage/etcd3"
	etcdfeature "k8s.io/apiserver/pkg/storage/feature"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// inProcessStorage gives every resource an etcd3 storage on one client
// that calls the embedded etcd in this process: no gRPC, no loopback
// connection, no marshalling of each request and response. The storage of
// k8s.io/apiserver dials etcd over the network: gRPC took about 15% of
// the server's CPU on the Event hot path.
//
// It is built as k8s.io/apiserver builds its own (factory.Create, and
// registry.StorageWithCacher where a resource has a watch cache) from
// what the options made for each resource. The /readyz and /livez etcd
// checks still reach etcd over the network, as with --etcd-servers.
// The in-process client has no RangeStream (etcd 3.7's streamed list):
// the storage finds it unimplemented and lists in pages, as it does with
// an older etcd.
type inProcessStorage struct {
	options generic.RESTOptionsGetter
	// watchCache is as --watch-cache and --watch-cache-sizes chose.
	watchCache      bool
	watchCacheSizes map[schema.GroupResource]int

	client    *kubernetes.Client
	compactor compactor // nil with --etcd-compaction-interval=0
}

// compactor is etcd3's: it compacts etcd every interval and tells the
// watch cache what it compacted.
type compactor interface {
	etcd3.Compactor
	Stop()
}

var _ generic.RESTOptionsGetter = &inProcessStorage{}

// newInProcessStorage wraps the REST options that the etcd options made
// for resources (storage over the network) with storage on an in-process
// client of e. Close it before e.
func newInProcessStorage(e *embeddedEtcd, options generic.RESTOptionsGetter, etcd *genericoptions.EtcdOptions) (*inProcessStorage, error) {
	sizes, err := genericoptions.ParseWatchCacheSizes(etcd.WatchCacheSizes)
	if err != nil {
		return nil, err
	}
	c := e.InProcessClient()
	// Each request's time in etcd counts in its latency breakdown, as
	// with k8s.io/apiserver's own client.
	c.KV = etcd3.NewETCDLatencyTracker(c.KV)
	kc := &kubernetes.Client{Client: c}
	kc.Kubernetes = kc

	s := &inProcessStorage{options: options, watchCache: etcd.EnableWatchCache, watchCacheSizes: sizes, client: kc}
	// As k8s.io/apiserver does, unless --etcd-compaction-interval=0: the
	// same compactor, sharing its record (a key in etcd) with the one
	// that ran on the network client before.
	if interval := etcd.StorageConfig.CompactionInterval; interval > 0 {
		s.compactor = etcd3.NewCompactor(c, interval, clock.RealClock{}, nil)
	}
	// The storage learns which etcd features it may use from each client's
	// endpoints; the in-process client has none, and without this check
	// the watch cache would serve neither consistent reads nor watch lists
	// (they need watch progress requests).
	etcdfeature.DefaultFeatureSupportChecker.CheckClient(c.Ctx(), embeddedEndpoint{Client: c, url: e.ClientURL()}, storage.RequestWatchProgress)
	return s, nil
}

// embeddedEndpoint is the in-process client under the embedded etcd's URL.
type embeddedEndpoint struct {
	*clientv3.Client
	url string
}

func (e embeddedEndpoint) Endpoints() []string { return []string{e.url} }

// Close stops the compactor and closes the client. The storage of every
// resource must be destroyed first (the API server does it as it stops).
func (s *inProcessStorage) Close() {
	if s.compactor != nil {
		s.compactor.Stop()
	}
	_ = s.client.Close()
}

// GetRESTOptions returns the options made for resource, with storage on
// the in-process client, below a watch cache when the options gave the
// resource one.
func (s *inProcessStorage) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := s.options.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	opts.Decorator = s.undecorated
	if s.watchCached(resource) {
		opts.Decorator = s.withWatchCache
	}
	return opts, nil
}

// watchCached decides as genericoptions.StorageFactoryRestOptionsFactory:
// a watch cache unless the cache is off or the resource's size is 0.
func (s *inProcessStorage) watchCached(resource schema.GroupResource) bool {
	size, ok := s.watchCacheSizes[resource]
	return s.watchCache && (!ok || size > 0)
}

// undecorated is generic.UndecoratedStorage on the in-process client.
func (s *inProcessStorage) undecorated(config *storagebackend.ConfigForResource, resourcePrefix string,
	_ func(obj runtime.Object) (string, error), newFunc, newListFunc func() runtime.Object,
	_ storage.AttrFunc, _ storage.IndexerFuncs, _ *cache.Indexers,
) (storage.Interface, factory.DestroyFunc, error) {
	return s.newStore(config, newFunc, newListFunc, resourcePrefix)
}

// withWatchCache is registry.StorageWithCacher on the in-process client.
func (s *inProcessStorage) withWatchCache(config *storagebackend.ConfigForResource, resourcePrefix string,
	keyFunc func(obj runtime.Object) (string, error), newFunc, newListFunc func() runtime.Object,
	getAttrs storage.AttrFunc, trigger storage.IndexerFuncs, indexers *cache.Indexers,
) (storage.Interface, factory.DestroyFunc, error) {
	store, destroyStore, err := s.newStore(config, newFunc, newListFunc, resourcePrefix)
	if err != nil {
		return nil, nil, err
	}
	cacher, err := cacherstorage.NewCacherFromConfig(cacherstorage.Config{
		Storage:             store,
		Versioner:           storage.APIObjectVersioner{},
		GroupResource:       config.GroupResource,
		EventsHistoryWindow: config.EventsHistoryWindow,
		ResourcePrefix:      resourcePrefix,
		KeyFunc:             keyFunc,
		NewFunc:             newFunc,
		NewListFunc:         newListFunc,
		GetAttrsFunc:        getAttrs,
		IndexerFuncs:        trigger,
		Indexers:            indexers,
		Codec:               config.Codec,
	})
	if err != nil {
		destroyStore()
		return nil, nil, fmt.Errorf("creating the watch cache of %s: %w", config.GroupResource, err)
	}
	delegator := cacherstorage.NewCacheDelegator(cacher, store)
	var once sync.Once
	return delegator, func() {
		once.Do(func() {
			delegator.Stop()
			cacher.Stop()
			destroyStore()
		})
	}, nil
}

// newStore is factory.Create's etcd3 storage, on the in-process client
// and the shared compactor.
func (s *inProcessStorage) newStore(c *storagebackend.ConfigForResource, newFunc, newListFunc func() runtime.Object, resourcePrefix string) (storage.Interface, factory.DestroyFunc, error) {
	if c.Type != storagebackend.StorageTypeUnset && c.Type != storagebackend.StorageTypeETCD3 {
		return nil, nil, fmt.Errorf("unknown storage type: %s", c.Type)
	}
	transformer := c.Transformer
	if transformer == nil {
		transformer = identity.NewEncryptCheckTransformer()
	}
	versioner := storage.APIObjectVersioner{}
	decoder := etcd3.NewDefaultDecoder(c.Codec, versioner)
	malformedDeletion := utilfeature.DefaultFeatureGate.Enabled(genericfeatures.AllowUnsafeMalformedObjectDeletion)
	if malformedDeletion {
		transformer = etcd3.WithCorruptObjErrorHandlingTransformer(transformer)
		decoder = etcd3.WithCorruptObjErrorHandlingDecoder(decoder)
	}
	var compactor etcd3.Compactor
	if s.compactor != nil {
		compactor = s.compactor
	}
	store, err := etcd3.New(s.client, compactor, c.Codec, newFunc, newListFunc, c.Prefix, resourcePrefix,
		c.GroupResource, transformer, c.LeaseManagerConfig, decoder, versioner)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the storage of %s: %w", c.GroupResource, err)
	}
	var once sync.Once
	destroy := func() { once.Do(store.Close) } // the client is shared: inProcessStorage.Close closes it
	if malformedDeletion {
		return etcd3.NewStoreWithUnsafeCorruptObjectDeletion(store, c.GroupResource), destroy, nil
	}
	return store, destroy, nil
}
