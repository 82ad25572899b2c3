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
// indexer, then tells its handlers, here the follower.
type informer struct {
	indexer cache.Indexer
	follow  *cacheFollower
}

func newInformer() informer {
	return informer{indexer: cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}), follow: newCacheFollower()}
}

func (i informer) update(t *testing.T, a *v1beta2.Alert) {
	t.Helper()
	if err := i.indexer.Update(a); err != nil {
		t.Fatal(err)
	}
	i.follow.handler().OnUpdate(nil, a)
}

func (i informer) await(timeout time.Duration) func(context.Context, *notification.Alert) {
	return awaitCached(i.indexer, i.follow, readyAlert, timeout, noObserver{})
}

// mustWait fails if done closes within 100 ms.
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

// A relist applies the listed objects in no order of version: another
// Alert at a later version is no sign that the cache holds this one.
func TestAWriteIsNotAnsweredForAnotherAlertsLaterVersion(t *testing.T) {
	inf := newInformer()
	done := startAwait(inf.await(time.Hour), storedAlert("9", true))
	other := cachedAlert("12")
	other.Name = "b"
	inf.update(t, other)
	mustWait(t, done, "when the cache held another Alert at a later version, not this one")
	inf.update(t, cachedAlert("9"))
	mustReturn(t, done, "the cache holds its version")
}

func TestAWriteDeletedBeforeTheCacheHeldItIsAnsweredAtTheDeletion(t *testing.T) {
	inf := newInformer()
	done := startAwait(inf.await(time.Hour), storedAlert("9", true))
	mustWait(t, done, "before the cache saw anything")
	// Created at 9, deleted at 10: the informer, coming late, sees only
	// the deletion, which carries the object at the deletion's version.
	inf.follow.handler().OnDelete(cachedAlert("10"))
	mustReturn(t, done, "the cache has seen it deleted")

	// A relist's tombstone carries the last version the cache knew: one
	// before the write is no sign of it.
	done = startAwait(inf.await(time.Hour), storedAlert("11", true))
	inf.follow.handler().OnDelete(cache.DeletedFinalStateUnknown{Key: "apps/a", Obj: cachedAlert("8")})
	mustWait(t, done, "at a deletion of a version before the write")
	inf.follow.handler().OnDelete(cache.DeletedFinalStateUnknown{Key: "apps/a", Obj: cachedAlert("12")})
	mustReturn(t, done, "the cache has seen it deleted, in a relist")

	// What was remembered for the waiters is dropped with them.
	inf.follow.mu.Lock()
	defer inf.follow.mu.Unlock()
	if len(inf.follow.waiting) != 0 || len(inf.follow.deleted) != 0 {
		t.Errorf("after the waits: waiting %v, deleted %v", inf.follow.waiting, inf.follow.deleted)
	}
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
