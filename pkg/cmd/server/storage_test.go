package server

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericoptions "k8s.io/apiserver/pkg/server/options"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// etcd gets protobuf, and what an older version wrote as JSON still reads.
func TestStorageCodecWritesProtobufAndReadsJSON(t *testing.T) {
	p := &notification.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "slack", Namespace: "apps"},
		Spec:       notification.ProviderSpec{Type: "slack", Channel: "general", Address: "https://slack.com/api/chat.postMessage"},
	}
	codec, err := storageCodec(runtime.ContentTypeProtobuf)
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	if err := codec.Encode(p, &stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stored.Bytes(), []byte("k8s\x00")) {
		t.Fatalf("stored %q, want protobuf", stored.Bytes()[:min(20, stored.Len())])
	}
	jsonCodec, err := storageCodec(runtime.ContentTypeJSON)
	if err != nil {
		t.Fatal(err)
	}
	var old bytes.Buffer
	if err := jsonCodec.Encode(p, &old); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"protobuf": stored.Bytes(), "JSON": old.Bytes()} {
		obj, _, err := codec.Decode(data, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, ok := obj.(*notification.Provider)
		if !ok || got.Name != p.Name || got.Spec.Type != p.Spec.Type || got.Spec.Channel != p.Spec.Channel || got.Spec.Address != p.Spec.Address {
			t.Errorf("%s read back as %#v", name, obj)
		}
	}
	if _, err := storageCodec("application/xml"); err == nil {
		t.Error("an unsupported media type was accepted")
	}
}

// The storage on the embedded etcd keeps the options' watch caches.
func TestInProcessStorageHasTheWatchCachesOfTheOptions(t *testing.T) {
	providers, alerts, events := notification.Resource("providers"), notification.Resource("alerts"), notification.Resource("events")
	for _, tc := range []struct {
		name   string
		args   []string
		cached map[schema.GroupResource]bool
	}{
		{"by default, every kind but events", nil,
			map[schema.GroupResource]bool{providers: true, alerts: true, events: false}},
		{"events when given a size", []string{"--watch-cache-sizes=events.notification.toolkit.fluxcd.io#100"},
			map[schema.GroupResource]bool{providers: true, alerts: true, events: true}},
		{"none with --watch-cache=false", []string{"--watch-cache=false"},
			map[schema.GroupResource]bool{providers: false, alerts: false, events: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			etcd := parse(t, tc.args...).RecommendedOptions.Etcd
			sizes, err := genericoptions.ParseWatchCacheSizes(etcd.WatchCacheSizes)
			if err != nil {
				t.Fatal(err)
			}
			s := &inProcessStorage{watchCache: etcd.EnableWatchCache, watchCacheSizes: sizes}
			for resource, want := range tc.cached {
				if got := s.watchCached(resource); got != want {
					t.Errorf("%s cached: %v, want %v", resource, got, want)
				}
			}
		})
	}
}

// etcd is compacted as with k8s.io/apiserver's own storage, and the
// storage tells up to which revision (its watch cache follows).
func TestInProcessStorageCompactsEtcdAndTellsUpToWhere(t *testing.T) {
	e, err := startEmbeddedEtcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	o := NewOptions()
	o.RecommendedOptions.Etcd.EnableWatchCache = false // the etcd3 store answers itself
	o.RecommendedOptions.Etcd.StorageConfig.CompactionInterval = 100 * time.Millisecond
	config := o.RecommendedOptions.Etcd.StorageConfig
	if config.Codec, err = storageCodec(runtime.ContentTypeProtobuf); err != nil {
		t.Fatal(err)
	}
	providers := notification.Resource("providers")
	s, err := newInProcessStorage(e, generic.RESTOptions{StorageConfig: config.ForResource(providers)}, o.RecommendedOptions.Etcd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close) // before e.Close
	opts, err := s.GetRESTOptions(providers, nil)
	if err != nil {
		t.Fatal(err)
	}
	store, destroy, err := opts.Decorator(opts.StorageConfig, "/providers", nil,
		func() runtime.Object { return &notification.Provider{} }, func() runtime.Object { return &notification.ProviderList{} }, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(destroy)

	client := e.InProcessClient()
	defer client.Close()
	const key = "/compaction-test"
	first, err := client.Put(t.Context(), key, "first")
	if err != nil {
		t.Fatal(err)
	}
	second, err := client.Put(t.Context(), key, "second")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for store.CompactRevision() < second.Header.Revision {
		if time.Now().After(deadline) {
			t.Fatalf("compacted up to revision %d after 30s, want %d", store.CompactRevision(), second.Header.Revision)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := client.Get(t.Context(), key, clientv3.WithRev(first.Header.Revision)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Errorf("the first version, revision %d, read back with %v; compaction said %d", first.Header.Revision, err, store.CompactRevision())
	}
	if _, err := client.Get(t.Context(), key, clientv3.WithRev(store.CompactRevision())); err != nil {
		t.Errorf("the compaction revision %d itself: %v", store.CompactRevision(), err)
	}
}
