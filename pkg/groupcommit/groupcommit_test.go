package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gate is a commit that records its batches and holds each until let go.
type gate struct {
	mu      sync.Mutex
	batches [][]int
	started chan int // the size of each batch as it starts
	release chan struct{}
}

func newGate() *gate {
	return &gate{started: make(chan int, 100), release: make(chan struct{}, 100)}
}

func (g *gate) commit(_ context.Context, items []int) ([]string, error) {
	g.mu.Lock()
	g.batches = append(g.batches, append([]int(nil), items...))
	g.mu.Unlock()
	g.started <- len(items)
	<-g.release
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = fmt.Sprint("done ", it)
	}
	return out, nil
}

func TestALoneItemGoesAtOnceAndWaitingOnesGoTogether(t *testing.T) {
	g := newGate()
	c := New(g.commit, Options{MaxItems: 4, MaxInFlight: 1})
	results := make(chan string, 20)
	do := func(i int) {
		r, err := c.Do(t.Context(), i)
		if err != nil {
			t.Error(err)
		}
		results <- r
	}
	go do(0)
	if n := <-g.started; n != 1 {
		t.Fatalf("the first item went in a batch of %d, want alone", n)
	}
	// While that batch is written, ten more come: they wait, then go in
	// batches of at most four.
	for i := 1; i <= 10; i++ {
		go do(i)
	}
	waitQueued(t, c, 10)
	g.release <- struct{}{}
	var sizes []int
	for len(sizes) < 3 {
		sizes = append(sizes, <-g.started)
		g.release <- struct{}{}
	}
	if fmt.Sprint(sizes) != "[4 4 2]" {
		t.Errorf("batches of %v, want [4 4 2]", sizes)
	}
	seen := map[string]bool{}
	for range 11 {
		seen[<-results] = true
	}
	for i := 0; i <= 10; i++ {
		if !seen[fmt.Sprint("done ", i)] {
			t.Errorf("item %d got no result of its own: %v", i, seen)
		}
	}
}

func waitQueued(t *testing.T, c *Committer[int, string], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		queued := len(c.queue)
		c.mu.Unlock()
		if queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d items queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMaxInFlightBatchesAreWrittenAtOnce(t *testing.T) {
	g := newGate()
	c := New(g.commit, Options{MaxItems: 10, MaxInFlight: 2})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { _, _ = c.Do(t.Context(), i) })
		<-g.started // each starts its own batch: one is in flight, a second may go
	}
	wg.Go(func() { _, _ = c.Do(t.Context(), 2) })
	waitQueued(t, c, 1) // the third waits for one of the two
	for range 3 {
		g.release <- struct{}{}
	}
	wg.Wait()
}

func TestAnErrorOrAPanicFailsTheWholeBatch(t *testing.T) {
	boom := errors.New("etcd is down")
	c := New(func(context.Context, []int) ([]string, error) { return nil, boom }, Options{})
	if _, err := c.Do(t.Context(), 1); !errors.Is(err, boom) {
		t.Errorf("got %v, want the batch's error", err)
	}
	p := New(func(context.Context, []int) ([]string, error) { panic("bug") }, Options{})
	if _, err := p.Do(t.Context(), 1); err == nil {
		t.Error("a panicking commit gave no error")
	}
	short := New(func(context.Context, []int) ([]string, error) { return []string{}, nil }, Options{})
	if _, err := short.Do(t.Context(), 1); err == nil {
		t.Error("a commit with too few results gave no error")
	}
}

func TestACallerStopsWaitingWhenItsContextEnds(t *testing.T) {
	g := newGate()
	c := New(g.commit, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	errs := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, 1)
		errs <- err
	}()
	<-g.started
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	g.release <- struct{}{}
}

func TestAGroupBatchesPerKeyAndForgetsIdleKeys(t *testing.T) {
	var mu sync.Mutex
	keys := map[string][]int{}
	g := NewGroup(func(_ context.Context, key string, items []int) ([]int, error) {
		mu.Lock()
		keys[key] = append(keys[key], items...)
		mu.Unlock()
		return items, nil
	}, Options{})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			key := fmt.Sprint("ns", i%4)
			got, err := g.Do(t.Context(), key, i)
			if err != nil || got != i {
				t.Errorf("item %d of %s: %d, %v", i, key, got, err)
			}
		})
	}
	wg.Wait()
	for k, items := range keys {
		for _, i := range items {
			if fmt.Sprint("ns", i%4) != k {
				t.Errorf("item %d was written with key %s", i, k)
			}
		}
	}
	if len(keys) != 4 {
		t.Errorf("keys %v, want 4", keys)
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d keys kept after their work", g.Len())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLingerGathersTheNextBatchUntilItIsFull(t *testing.T) {
	g := newGate()
	// An hour: the test would time out if the full batch waited for it.
	c := New(g.commit, Options{MaxItems: 3, MaxInFlight: 1, Linger: time.Hour})
	do, done := doer(t, c)
	go do(0)
	if n := <-g.started; n != 1 {
		t.Fatalf("the first item went in a batch of %d, want alone", n)
	}
	g.release <- struct{}{}
	<-done
	go do(1)
	go do(2)
	waitQueued(t, c, 2)
	select {
	case n := <-g.started:
		t.Fatalf("a batch of %d went while the writer lingered", n)
	default:
	}
	go do(3)
	if n := <-g.started; n != 3 {
		t.Fatalf("the full batch went with %d items, want 3", n)
	}
	g.release <- struct{}{}
	for range 3 {
		<-done
	}
}

func TestLingerEndsWithWhatWaits(t *testing.T) {
	g := newGate()
	c := New(g.commit, Options{MaxItems: 100, MaxInFlight: 1, Linger: 500 * time.Millisecond})
	do, done := doer(t, c)
	go do(0)
	<-g.started
	g.release <- struct{}{}
	<-done
	for i := 1; i <= 4; i++ {
		go do(i)
	}
	if n := <-g.started; n != 4 {
		t.Fatalf("after the linger a batch of %d went, want the 4 that waited", n)
	}
	g.release <- struct{}{}
	for range 4 {
		<-done
	}
}

func TestGatherWaitsForTheCallersOfABatchToComeBack(t *testing.T) {
	g := newGate()
	// An hour: the test would time out if a batch waited for it.
	c := New(g.commit, Options{MaxItems: 10, MaxInFlight: 1, Gather: time.Hour})
	do, done := doer(t, c)
	go do(0)
	if n := <-g.started; n != 1 {
		t.Fatalf("the first item went in a batch of %d, want alone", n)
	}
	for i := 1; i <= 3; i++ {
		go do(i)
	}
	waitQueued(t, c, 3)
	g.release <- struct{}{}
	// After a batch of one, what waits goes at once.
	if n := <-g.started; n != 3 {
		t.Fatalf("after a lone item a batch of %d went, want the 3 that waited", n)
	}
	go do(4)
	waitQueued(t, c, 1)
	g.release <- struct{}{}
	for range 4 {
		<-done
	}
	// The batch of 3 ended with 1 item waiting: the next waits for 3 more.
	go do(5)
	go do(6)
	waitQueued(t, c, 3)
	select {
	case n := <-g.started:
		t.Fatalf("a batch of %d went while the writer gathered", n)
	default:
	}
	go do(7)
	if n := <-g.started; n != 4 {
		t.Fatalf("the gathered batch went with %d items, want 4", n)
	}
	g.release <- struct{}{}
	for range 4 {
		<-done
	}
}

func TestGatherEndsWithWhatWaits(t *testing.T) {
	g := newGate()
	c := New(g.commit, Options{MaxItems: 100, MaxInFlight: 1, Gather: 200 * time.Millisecond})
	do, done := doer(t, c)
	go do(0)
	<-g.started
	go do(1)
	go do(2)
	waitQueued(t, c, 2)
	g.release <- struct{}{}
	<-done
	if n := <-g.started; n != 2 {
		t.Fatalf("a batch of %d went, want 2", n)
	}
	go do(3)
	waitQueued(t, c, 1)
	g.release <- struct{}{}
	// Nobody else comes: item 3 goes alone once the wait is over.
	if n := <-g.started; n != 1 {
		t.Fatalf("after the wait a batch of %d went, want the 1 that waited", n)
	}
	g.release <- struct{}{}
	for range 3 {
		<-done
	}
}

// doer returns a func that writes an item through c, and the channel that
// says each is done.
func doer(t *testing.T, c *Committer[int, string]) (func(int), chan struct{}) {
	done := make(chan struct{}, 10)
	return func(i int) {
		if _, err := c.Do(t.Context(), i); err != nil {
			t.Error(err)
		}
		done <- struct{}{}
	}, done
}
