package event

import (
	"bytes"
	"hash/maphash"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/klog/v2"

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
//
// Most writes are this server's own (the Writer's creates and status
// records), and the Writer has the object it encoded: it hands the codec
// that object as a decode of its bytes would give it (see asStored), so
// that those writes are not decoded at all. One in checkEvery is decoded
// all the same and compared: a difference turns this off for good.
type watchDecodes struct {
	runtime.Codec

	seed maphash.Seed
	mu   sync.Mutex
	// recent is a ring of the last decodes; index finds them by the hash
	// of their bytes.
	recent []*decoded
	index  map[uint64]int
	next   int

	// written counts the objects the Writer gave; off, once one differed
	// from its decode, stops taking them.
	written atomic.Uint64
	off     atomic.Bool

	// waiting, when set (by tests), is called when a decode waits for
	// another of the same bytes.
	waiting func()
}

// checkEvery: one written object in so many is decoded as well and
// compared with what the Writer gave.
const checkEvery = 64

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
	c.add(d)
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

// add puts d in the ring, in place of the oldest. c.mu is held.
func (c *watchDecodes) add(d *decoded) {
	if old := c.recent[c.next]; old != nil && c.index[old.hash] == c.next {
		delete(c.index, old.hash)
	}
	c.recent[c.next] = d
	c.index[d.hash] = c.next
	c.next = (c.next + 1) % len(c.recent)
}

// wrote takes data, the bytes the Writer encoded e to (before any
// transformer), as decoding to asStored(e): the watches that get that
// write copy it. e is not kept.
func (c *watchDecodes) wrote(data []byte, e *notification.Event) {
	if c.off.Load() {
		return
	}
	obj := asStored(e)
	if c.written.Add(1)%checkEvery == 1 && !c.sameAsDecode(data, obj) {
		return
	}
	// eventKind, v1beta2, is also the version in etcd.
	d := &decoded{hash: maphash.Bytes(c.seed, data), data: bytes.Clone(data), done: make(chan struct{}), obj: obj, gvk: eventKind}
	close(d.done)
	watchDecodeCount.WithLabelValues("written").Inc()
	c.mu.Lock()
	if i, ok := c.index[d.hash]; !ok || !bytes.Equal(c.recent[i].data, data) {
		c.add(d)
	}
	c.mu.Unlock()
}

// sameAsDecode tells whether data decodes to obj; if not, the Writer's
// objects are no longer taken.
func (c *watchDecodes) sameAsDecode(data []byte, obj *notification.Event) bool {
	out, gvk, err := c.Codec.Decode(data, nil, nil)
	if err == nil && gvk != nil && *gvk == eventKind && reflect.DeepEqual(out, obj) {
		return true
	}
	if !c.off.Swap(true) {
		watchDecodeCount.WithLabelValues("written-differed").Inc()
		klog.ErrorS(err, "An Event as written differs from its decode: the watches of Events decode every write from now on", "namespace", obj.Namespace, "name", obj.Name)
	}
	return false
}

// asStored is e as decoding its stored bytes gives it: without its type
// and resourceVersion (etcd holds neither), its times to the second in
// the local time zone (protobuf keeps seconds), and its empty maps and
// lists nil (protobuf does not tell them from absent ones). e is not
// changed. A test decodes the fuzzer's Events to check it.
func asStored(e *notification.Event) *notification.Event {
	out := e.DeepCopy()
	out.TypeMeta = metav1.TypeMeta{}
	out.ResourceVersion, out.SelfLink = "", ""
	storedTime(&out.CreationTimestamp)
	storedTimePtr(out.DeletionTimestamp)
	out.Labels = nilIfEmpty(out.Labels)
	out.Annotations = nilIfEmpty(out.Annotations)
	if len(out.OwnerReferences) == 0 {
		out.OwnerReferences = nil
	}
	if len(out.Finalizers) == 0 {
		out.Finalizers = nil
	}
	if len(out.ManagedFields) == 0 {
		out.ManagedFields = nil
	}
	for i := range out.ManagedFields {
		storedTimePtr(out.ManagedFields[i].Time)
	}
	storedTime(&out.Timestamp)
	out.EventMetadata = nilIfEmpty(out.EventMetadata)
	storedTimePtr(out.Status.RoutedAt)
	if len(out.Status.Deliveries) == 0 {
		out.Status.Deliveries = nil
	}
	for i := range out.Status.Deliveries {
		storedTimePtr(out.Status.Deliveries[i].LastAttemptTime)
	}
	return out
}

// storedTime is t to the second in the local time zone; the zero time
// stays zero.
func storedTime(t *metav1.Time) {
	if !t.IsZero() {
		t.Time = time.Unix(t.Unix(), 0).Local()
	}
}

func storedTimePtr(t *metav1.Time) {
	if t != nil {
		storedTime(t)
	}
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// watchDecodeOptions gives the Events' storage the remembering codec.
type watchDecodeOptions struct {
	generic.RESTOptionsGetter
	// made is the codec it gave, for the Writer to hand its writes to.
	made *watchDecodes
}

func (g *watchDecodeOptions) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil || opts.StorageConfig == nil || opts.StorageConfig.Codec == nil {
		return opts, err
	}
	// A copy: the getter may hand the same config to others.
	cfg := *opts.StorageConfig
	g.made = newWatchDecodes(cfg.Codec)
	cfg.Codec = g.made
	opts.StorageConfig = &cfg
	return opts, nil
}
