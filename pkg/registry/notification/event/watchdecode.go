package event

import (
	"bytes"
	"hash/maphash"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// Every write of an Event reaches each watch of Events, and Events have no
// watch cache (it would hold every Event of the retention in memory): each
// watch decodes the write for itself. There are at least two: the
// delivery loop's, which also decodes the version before of every update
// to tell whether it leaves its filter, and the kube-controller-manager's
// garbage collector's. So the same bytes are decoded three to five times,
// and decoding is the largest part of a watch's cost.
//
// watchDecodes is the Events' storage codec, remembering what it decoded
// for a watch: the bytes of the recent writes and their object. A watch
// that gets the same bytes again gets a copy of that object instead of
// decoding them. Decoding is deterministic (Events have no defaults that
// read the clock), so the copy is what the decode would have given.
// Reads into a given object (gets, lists, updates) decode as before: they
// rarely repeat what a watch just decoded, and a list would only churn
// the memory.
type watchDecodes struct {
	runtime.Codec

	seed maphash.Seed
	mu   sync.Mutex
	// recent is a ring of the last decodes; index finds them by the hash
	// of their bytes.
	recent []*decoded
	index  map[uint64]int
	next   int

	// waiting, when set (by tests), is called when a decode waits for
	// another of the same bytes.
	waiting func()
}

// decoded is one decode, remembered from when it starts: the watches
// get a write at the same moment, and one that comes while another
// decodes the same bytes waits for that decode rather than making its own.
type decoded struct {
	hash uint64
	data []byte
	// done is closed when the decode has ended; obj and gvk are set
	// before, and obj is nil if the bytes did not decode to an Event.
	done chan struct{}
	// obj is never changed once set: each reader gets a copy.
	obj *notification.Event
	gvk schema.GroupVersionKind
}

// watchDecodeMemory is how many decodes are remembered: a write is read
// by the watches within milliseconds, and the version before an update
// again when the update comes, after the delivery: tens of milliseconds
// later, some hundred writes in a burst of thousands of events a second.
// About 2 KiB each; one forgotten is decoded again.
const watchDecodeMemory = 256

func newWatchDecodes(c runtime.Codec) *watchDecodes {
	return &watchDecodes{
		Codec:  c,
		seed:   maphash.MakeSeed(),
		recent: make([]*decoded, watchDecodeMemory),
		index:  make(map[uint64]int, watchDecodeMemory),
	}
}

// Decode decodes data, or copies what the same bytes decoded to before
// when it is a watch's decode (nothing to decode into, no defaults).
func (c *watchDecodes) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	if into != nil || defaults != nil {
		return c.Codec.Decode(data, defaults, into)
	}
	h := maphash.Bytes(c.seed, data)
	c.mu.Lock()
	if i, ok := c.index[h]; ok && bytes.Equal(c.recent[i].data, data) {
		d := c.recent[i]
		c.mu.Unlock()
		if c.waiting != nil {
			c.waiting()
		}
		<-d.done
		if d.obj != nil {
			watchDecodeCount.WithLabelValues("copied").Inc()
			gvk := d.gvk
			return d.obj.DeepCopy(), &gvk, nil
		}
		// Not an Event, or it failed: this one decodes for itself and
		// gets its own answer.
		return c.Codec.Decode(data, defaults, into)
	}
	d := &decoded{hash: h, data: bytes.Clone(data), done: make(chan struct{})}
	if old := c.recent[c.next]; old != nil && c.index[old.hash] == c.next {
		delete(c.index, old.hash)
	}
	c.recent[c.next] = d
	c.index[h] = c.next
	c.next = (c.next + 1) % len(c.recent)
	c.mu.Unlock()
	// Whatever happens, the waiters are let go.
	defer close(d.done)

	obj, gvk, err := c.Codec.Decode(data, defaults, into)
	if err != nil || gvk == nil {
		return obj, gvk, err
	}
	e, ok := obj.(*notification.Event)
	if !ok {
		return obj, gvk, err
	}
	watchDecodeCount.WithLabelValues("decoded").Inc()
	d.obj, d.gvk = e.DeepCopy(), *gvk
	return obj, gvk, nil
}

// watchDecodeOptions gives the Events' storage the remembering codec.
type watchDecodeOptions struct {
	generic.RESTOptionsGetter
}

func (g watchDecodeOptions) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil || opts.StorageConfig == nil || opts.StorageConfig.Codec == nil {
		return opts, err
	}
	// A copy: the getter may hand the same config to others.
	cfg := *opts.StorageConfig
	cfg.Codec = newWatchDecodes(cfg.Codec)
	opts.StorageConfig = &cfg
	return opts, nil
}
