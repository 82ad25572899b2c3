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

func TestAWriteStoredReadyIsAnsweredOnceTheCacheHoldsIt(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(cachedAlert("7")); err != nil { // the version before
		t.Fatal(err)
	}
	await := awaitCached(indexer, readyAlert, time.Hour, noObserver{})
	done := startAwait(await, storedAlert("9", true))
	time.Sleep(100 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("answered while the cache held only the version before")
	default:
	}
	if err := indexer.Update(cachedAlert("9")); err != nil {
		t.Fatal(err)
	}
	mustReturn(t, done, "the cache holds its version")

	// A later version counts too: the write was overtaken.
	mustReturn(t, startAwait(await, storedAlert("8", true)), "the cache holds a later version")
}

func TestAWriteNotStoredReadyIsAnsweredAtOnce(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	await := awaitCached(indexer, readyAlert, time.Hour, noObserver{})
	// Not Ready: the reconciler will write Ready after reading it from
	// the cache itself.
	mustReturn(t, startAwait(await, storedAlert("9", false)), "it was not stored Ready")
	// Ready at an older generation (a spec change not checked yet).
	stale := storedAlert("9", true)
	stale.Generation = 2
	mustReturn(t, startAwait(await, stale), "it was not stored Ready at its generation")
}

func TestAWriteTheCacheNeverGetsIsAnsweredAfterTheTimeout(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	await := awaitCached(indexer, readyAlert, 50*time.Millisecond, noObserver{})
	mustReturn(t, startAwait(await, storedAlert("9", true)), "the timeout passed")
}
