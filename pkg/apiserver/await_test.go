package apiserver

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/conditions"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// storedAlert is the Alert apps/a as a write stored it: at
// resourceVersion rv, Ready or not.
func storedAlert(rv string, ready bool) *notification.Alert {
	a := &notification.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "a", Generation: 1, ResourceVersion: rv}}
	if ready {
		a.Status.ObservedGeneration = 1
		conditions.MarkReady(&a.Status.Conditions, 1, "Initialized")
	}
	return a
}

// cachedAlert is the Alert apps/a as the server's informer holds it.
func cachedAlert(rv string) *v1beta2.Alert {
	return &v1beta2.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "a", ResourceVersion: rv}}
}

// noObserver drops what it is told.
type noObserver struct{}

func (noObserver) Observe(float64) {}

// startAwait runs await on o and returns a channel closed when it returns.
func startAwait(await func(context.Context, *notification.Alert), o *notification.Alert) <-chan struct{} {
	done := make(chan struct{})
	go func() { defer close(done); await(context.Background(), o) }()
	return done
}

func mustReturn(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the write's answer is still held: %s", why)
	}
}

// informer stands for the server's Alert informer: it updates its
// indexer, then tells its handlers, here the watermark.
type informer struct {
	indexer cache.Indexer
	seen    *rvWatermark
}

func newInformer() informer {
	return informer{indexer: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}), seen: newRVWatermark()}
}

func (i informer) update(t *testing.T, a *v1beta2.Alert) {
	t.Helper()
	if err := i.indexer.Update(a); err != nil {
		t.Fatal(err)
	}
	i.seen.handler().OnUpdate(nil, a)
}

func (i informer) delete(t *testing.T, a *v1beta2.Alert) {
	t.Helper()
	if err := i.indexer.Delete(a); err != nil {
		t.Fatal(err)
	}
	i.seen.handler().OnDelete(a)
}

func (i informer) await(timeout time.Duration) func(context.Context, *notification.Alert) {
	return awaitCached(i.indexer, i.seen, readyAlert, timeout, noObserver{})
}

func mustWait(t *testing.T, done <-chan struct{}, why string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-done:
		t.Fatalf("answered %s", why)
	default:
	}
}

func TestAWriteStoredReadyIsAnsweredOnceTheCacheHoldsIt(t *testing.T) {
	inf := newInformer()
	inf.update(t, cachedAlert("7")) // the version before
	await := inf.await(time.Hour)
	done := startAwait(await, storedAlert("9", true))
	mustWait(t, done, "while the cache held only the version before")
	inf.update(t, cachedAlert("9"))
	mustReturn(t, done, "the cache holds its version")

	// A later version counts too: the write was overtaken.
	mustReturn(t, startAwait(await, storedAlert("8", true)), "the cache holds a later version")
}

func TestAWriteIsAnsweredOnceTheCacheIsPastItsVersion(t *testing.T) {
	inf := newInformer()
	done := startAwait(inf.await(time.Hour), storedAlert("9", true))
	other := cachedAlert("8")
	other.Name = "b"
	inf.update(t, other)
	mustWait(t, done, "when the cache had got only to an earlier version of another Alert")
	// A later version of another Alert: the cache got the write (and,
	// here, its deletion) before it.
	other.ResourceVersion = "10"
	inf.update(t, other)
	mustReturn(t, done, "the cache is past the write's version")
}

func TestAWriteDeletedBeforeTheCacheHeldItIsAnsweredAtTheDeletion(t *testing.T) {
	inf := newInformer()
	done := startAwait(inf.await(time.Hour), storedAlert("9", true))
	mustWait(t, done, "before the cache saw anything")
	// The Alert was created at 9 and deleted at 10: the cache sees it
	// added, then deleted at once, or (coming late) only the deletion,
	// which carries the object at the deletion's version.
	inf.update(t, cachedAlert("9"))
	inf.delete(t, cachedAlert("10"))
	mustReturn(t, done, "the cache has seen it deleted")

	done = startAwait(inf.await(time.Hour), storedAlert("11", true))
	inf.seen.handler().OnDelete(cache.DeletedFinalStateUnknown{Key: "apps/a", Obj: cachedAlert("12")})
	mustReturn(t, done, "the cache has seen it deleted, in a relist")
}

func TestAWriteNotStoredReadyIsAnsweredAtOnce(t *testing.T) {
	await := newInformer().await(time.Hour)
	// Not Ready: the reconciler will write Ready after reading it from
	// the cache itself.
	mustReturn(t, startAwait(await, storedAlert("9", false)), "it was not stored Ready")
	// Ready at an older generation (a spec change not checked yet).
	stale := storedAlert("9", true)
	stale.Generation = 2
	mustReturn(t, startAwait(await, stale), "it was not stored Ready at its generation")
}

func TestAWriteTheCacheNeverGetsIsAnsweredAfterTheTimeout(t *testing.T) {
	mustReturn(t, startAwait(newInformer().await(50*time.Millisecond), storedAlert("9", true)), "the timeout passed")
}
