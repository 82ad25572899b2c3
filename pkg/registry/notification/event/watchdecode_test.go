package event

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apifuzzer "k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/versioning"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/component-base/metrics/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	notificationfuzzer "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/fuzzer"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/install"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func decodeCounts(t *testing.T) (decoded, copied float64) {
	t.Helper()
	d, err := testutil.GetCounterMetricValue(watchDecodeCount.WithLabelValues("decoded"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := testutil.GetCounterMetricValue(watchDecodeCount.WithLabelValues("copied"))
	if err != nil {
		t.Fatal(err)
	}
	return d, c
}

// next is the next event of w that is not a bookmark.
func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended")
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			return ev
		case <-time.After(30 * time.Second):
			t.Fatal("no watch event in 30s")
		}
	}
}

// Two watches of Events get every write: the second gets a copy of what
// the first decoded, each its own, equal to the decode of the bytes.
func TestWatchesOfEventsDecodeEachWriteOnce(t *testing.T) {
	r := newStorage(t, clocktesting.NewFakeClock(time.Now()))
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	// The watches start from a list's revision: one started with none
	// would list what is there once its goroutine runs, which on a busy
	// machine may be after the writes below.
	list, err := r.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv := list.(*notification.EventList).ResourceVersion
	var watches []watch.Interface
	for range 2 {
		w, err := r.Watch(ctx, &metainternalversion.ListOptions{ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		watches = append(watches, w)
	}
	decoded0, copied0 := decodeCounts(t)

	created, err := create(t, r, newEvent("validation error"))
	if err != nil {
		t.Fatal(err)
	}
	update := created.DeepCopy()
	update.Labels = map[string]string{"triage": "done"}
	if _, _, err := r.Store.Update(ctx, update.Name, rest.DefaultUpdatedObjectInfo(update), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, want := range []watch.EventType{watch.Added, watch.Modified} {
		a, b := next(t, watches[0]), next(t, watches[1])
		if a.Type != want || b.Type != want {
			t.Fatalf("got %s and %s, want %s", a.Type, b.Type, want)
		}
		ea, eb := a.Object.(*notification.Event), b.Object.(*notification.Event)
		if ea == eb {
			t.Fatalf("%s: both watches got the same object", want)
		}
		if !reflect.DeepEqual(ea, eb) {
			t.Errorf("%s: the watches got different objects:\n%#v\n%#v", want, ea, eb)
		}
		if ea.ResourceVersion == "" || ea.Message != "validation error" {
			t.Errorf("%s: not the Event written: %#v", want, ea)
		}
		if want == watch.Modified && ea.Labels["triage"] != "done" {
			t.Errorf("the update's label is missing: %v", ea.Labels)
		}
		// What one watch's reader changes, the other's does not see.
		ea.EventMetadata["changed"] = "by a"
		if _, ok := eb.EventMetadata["changed"]; ok {
			t.Fatalf("%s: the watches share the metadata map", want)
		}
	}
	decoded, copied := decodeCounts(t)
	// Two writes, each got by two watches: one decode each, whether the
	// second watch comes while the first decodes or after.
	if decoded-decoded0 != 2 || copied-copied0 != 2 {
		t.Errorf("decoded %v and copied %v for two writes to two watches, want 2 and 2", decoded-decoded0, copied-copied0)
	}
}

// blockingCodec decodes only when let go, and tells of each decode begun.
type blockingCodec struct {
	runtime.Codec
	begun   chan struct{}
	release chan struct{}
}

func (b blockingCodec) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	b.begun <- struct{}{}
	<-b.release
	return b.Codec.Decode(data, defaults, into)
}

// Watches that get the same bytes while one decodes them wait for that
// decode and get copies of it; bytes that do not decode give each its
// own error.
func TestWatchesThatGetAWriteAtOnceShareOneDecode(t *testing.T) {
	codec := eventCodec(t)
	e := newEvent("at once")
	e.Name = "e"
	data, err := runtime.Encode(codec, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		decodes int
	}{
		{"an Event", data, 1},
		{"bytes that are no Event", []byte("{not json"), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := blockingCodec{Codec: codec, begun: make(chan struct{}, 8), release: make(chan struct{})}
			c := newWatchDecodes(inner)
			waiters := make(chan struct{}, 8)
			c.waiting = func() { waiters <- struct{}{} }
			d0, c0 := decodeCounts(t)

			type result struct {
				obj runtime.Object
				err error
			}
			results := make(chan result, 4)
			decode := func() {
				obj, _, err := c.Decode(tc.data, nil, nil)
				results <- result{obj, err}
			}
			go decode()
			<-inner.begun
			for range 3 {
				go decode()
			}
			for range 3 {
				select {
				case <-waiters:
				case <-inner.begun:
					t.Fatal("a second decode of the same bytes began while the first was under way")
				case <-time.After(30 * time.Second):
					t.Fatal("the other decodes neither waited nor began")
				}
			}
			close(inner.release)
			var objs []*notification.Event
			for range 4 {
				r := <-results
				if tc.decodes > 1 {
					if r.err == nil {
						t.Fatalf("no error for %q", tc.data)
					}
					continue
				}
				if r.err != nil {
					t.Fatal(r.err)
				}
				objs = append(objs, r.obj.(*notification.Event))
			}
			// The waiters on a failed decode each decoded for themselves.
			if begun := 1 + len(inner.begun); begun != tc.decodes {
				t.Errorf("%d decodes, want %d", begun, tc.decodes)
			}
			for i, o := range objs {
				if o.Message != "at once" {
					t.Errorf("got %#v", o)
				}
				for _, p := range objs[:i] {
					if p == o {
						t.Fatal("two decodes got the same object")
					}
				}
			}
			if d, cp := decodeCounts(t); tc.decodes == 1 && (d-d0 != 1 || cp-c0 != 3) {
				t.Errorf("counted %v decoded and %v copied, want 1 and 3", d-d0, cp-c0)
			}
		})
	}
}

func eventCodec(t *testing.T) runtime.Codec {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return serializer.NewCodecFactory(scheme).LegacyCodec(v1beta2.SchemeGroupVersion)
}

func TestTheWatchDecodesRememberTheLastOnesAndOnlyForWatches(t *testing.T) {
	codec := eventCodec(t)
	c := newWatchDecodes(codec)
	encode := func(message string) []byte {
		e := newEvent(message)
		e.Name = "e"
		data, err := runtime.Encode(codec, e)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := encode("first")
	decode := func(data []byte) *notification.Event {
		t.Helper()
		obj, gvk, err := c.Decode(data, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if gvk == nil || *gvk != v1beta2.SchemeGroupVersion.WithKind("Event") {
			t.Fatalf("decoded as %v", gvk)
		}
		return obj.(*notification.Event)
	}
	counts := func() (float64, float64) { return decodeCounts(t) }

	d0, c0 := counts()
	want, _, err := codec.Decode(first, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := decode(first)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %#v, want %#v", got, want)
	}
	got.Message = "changed by the reader"
	again := decode(first)
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("the copy is %#v, want %#v", again, want)
	}
	if d, cp := counts(); d-d0 != 1 || cp-c0 != 1 {
		t.Fatalf("decoded %v, copied %v, want 1 and 1", d-d0, cp-c0)
	}

	// A read into an object decodes and is not remembered.
	into := &notification.Event{}
	if _, _, err := c.Decode(encode("into"), nil, into); err != nil || into.Message != "into" {
		t.Fatalf("decoding into an object: %v, %q", err, into.Message)
	}
	if d, cp := counts(); d-d0 != 1 || cp-c0 != 1 {
		t.Fatalf("a read into an object counted: decoded %v, copied %v", d-d0, cp-c0)
	}

	// After watchDecodeMemory others, the first is forgotten.
	for i := range watchDecodeMemory {
		decode(encode("other " + string(rune('a'+i%26)) + time.Duration(i).String()))
	}
	d1, c1 := counts()
	decode(first)
	if d, cp := counts(); d-d1 != 1 || cp-c1 != 0 {
		t.Fatalf("the first after %d others: decoded %v, copied %v, want decoded again", watchDecodeMemory, d-d1, cp-c1)
	}
}

// storageCodec is the Events' codec as the server's storage has it:
// v1beta2 in protobuf.
func storageCodec(t *testing.T) runtime.Codec {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	return versioning.NewDefaultingCodecForScheme(scheme, info.Serializer, codecs.UniversalDeserializer(),
		schema.GroupVersions{v1beta2.SchemeGroupVersion}, runtime.InternalGroupVersioner)
}

// The Writer's Events stand for the decode of their bytes, so asStored
// must give exactly what the decode gives: for the fuzzer's Events, and
// for what the fuzzer does not make (times to the nanosecond in UTC,
// empty but not nil maps and lists).
func TestAnEventAsWrittenIsWhatItsBytesDecodeTo(t *testing.T) {
	codec := storageCodec(t)
	scheme := runtime.NewScheme()
	install.Install(scheme)
	f := apifuzzer.FuzzerFor(apifuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, notificationfuzzer.Funcs),
		rand.NewSource(1), serializer.NewCodecFactory(scheme))
	now := metav1.NewTime(time.Date(2026, 11, 27, 20, 3, 31, 123456789, time.UTC))
	for i := range 3000 {
		e := &notification.Event{}
		f.Fill(e)
		switch i % 4 {
		case 1:
			e.CreationTimestamp, e.Timestamp = now, now
			e.DeletionTimestamp, e.Status.RoutedAt = &now, &now
			for j := range e.ManagedFields {
				e.ManagedFields[j].Time = &now
			}
			for j := range e.Status.Deliveries {
				e.Status.Deliveries[j].LastAttemptTime = &now
			}
		case 2:
			e.Labels, e.Annotations, e.EventMetadata = map[string]string{}, map[string]string{}, map[string]string{}
			e.OwnerReferences, e.Finalizers = []metav1.OwnerReference{}, []string{}
			e.ManagedFields, e.Status.Deliveries = []metav1.ManagedFieldsEntry{}, []notification.Delivery{}
		case 3:
			e.CreationTimestamp, e.Timestamp = metav1.Time{}, metav1.Time{}
			e.Status.RoutedAt = &metav1.Time{}
		}
		// As the Writer does.
		if err := (storage.APIObjectVersioner{}).PrepareObjectForStorage(e); err != nil {
			t.Fatal(err)
		}
		data, err := runtime.Encode(codec, e)
		if err != nil {
			t.Fatalf("encoding event %d: %v", i, err)
		}
		want, gvk, err := codec.Decode(data, nil, nil)
		if err != nil {
			t.Fatalf("decoding event %d: %v", i, err)
		}
		if *gvk != eventKind {
			t.Fatalf("event %d decoded as %v, want %v", i, gvk, eventKind)
		}
		if got := asStored(e); !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d as written differs from its decode (-written +decoded):\n%s", i, cmp.Diff(got, want))
		}
	}
}

// What the Writer writes is copied by the watches, not decoded; a write
// whose object differs from its bytes' decode turns that off, and the
// watches decode again.
func TestTheWatchesCopyWhatTheWriterWroteUntilOneDiffers(t *testing.T) {
	codec := storageCodec(t)
	c := newWatchDecodes(codec)
	written := func(message string) ([]byte, *notification.Event) {
		t.Helper()
		e := newEvent(message)
		e.Name = message
		e.CreationTimestamp = metav1.NewTime(time.Now().UTC())
		data, err := runtime.Encode(codec, e)
		if err != nil {
			t.Fatal(err)
		}
		return data, e
	}
	watch := func(data []byte) *notification.Event {
		t.Helper()
		obj, gvk, err := c.Decode(data, nil, nil)
		if err != nil || *gvk != eventKind {
			t.Fatalf("decoding: %v, %v", gvk, err)
		}
		return obj.(*notification.Event)
	}
	counts := func() (decoded, copied, written float64) {
		t.Helper()
		d, cp := decodeCounts(t)
		w, err := testutil.GetCounterMetricValue(watchDecodeCount.WithLabelValues("written"))
		if err != nil {
			t.Fatal(err)
		}
		return d, cp, w
	}

	d0, c0, w0 := counts()
	// The first write is checked against its decode (one in checkEvery).
	for i := range checkEvery + 1 {
		data, e := written(fmt.Sprintf("written-%d", i))
		c.wrote(data, e)
		e.Message = "changed after the write"
		want, _, err := codec.Decode(data, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if got := watch(data); !reflect.DeepEqual(got, want) {
				t.Fatalf("write %d: the watch got %#v, want %#v", i, got, want)
			}
		}
	}
	d, cp, w := counts()
	if d-d0 != 0 || cp-c0 != 2*(checkEvery+1) || w-w0 != checkEvery+1 {
		t.Fatalf("decoded %v, copied %v, written %v; want 0, %d, %d", d-d0, cp-c0, w-w0, 2*(checkEvery+1), checkEvery+1)
	}

	// The next checked write (the 2×checkEvery+1st) differs from its bytes: it is not taken,
	// nor is any after it.
	for i := range checkEvery {
		data, e := written(fmt.Sprintf("late-%d", i))
		if i == checkEvery-1 {
			e.Message = "not what was encoded"
		}
		c.wrote(data, e)
	}
	if !c.off.Load() {
		t.Fatal("an Event that differs from its decode did not turn the Writer's objects off")
	}
	data, e := written("after")
	c.wrote(data, e)
	d1, c1, w1 := counts()
	got := watch(data)
	if got.Message != "after" {
		t.Fatalf("the watch got %q", got.Message)
	}
	if d, cp, w := counts(); d-d1 != 1 || cp-c1 != 0 || w-w1 != 0 {
		t.Fatalf("after the difference: decoded %v, copied %v, written %v; want 1, 0, 0", d-d1, cp-c1, w-w1)
	}
}
