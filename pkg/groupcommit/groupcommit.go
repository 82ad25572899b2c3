// Package groupcommit groups concurrent writes into batches, as databases
// group their commits: an item goes at once when fewer than MaxInFlight
// batches are being written, with whatever else waits; otherwise it waits
// for a batch to finish and goes in the next one. By default there is no
// timer: a lone item is never delayed, and under load batches grow by
// themselves up to MaxItems, so each costs one request instead of one per
// item. Callers that come back as soon as they are answered can ask the
// next batch to wait for them with Gather; writes off the callers'
// critical path can ask for bigger batches still with Linger.
package groupcommit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// CommitFunc writes items and returns one result per item, or an error
// for all of them.
type CommitFunc[T, R any] func(ctx context.Context, items []T) ([]R, error)

// Options bound the batches.
type Options struct {
	// MaxItems is the most items in one batch (default 100).
	MaxItems int
	// MaxInFlight is the most batches written at once (default 2).
	MaxInFlight int
	// Timeout bounds the write of one batch (default 30s). A batch goes on
	// when the caller that started it stops waiting: others wait for it.
	Timeout time.Duration
	// Linger spaces the batches of a writer: the next starts no sooner
	// than Linger after the one before started, unless MaxItems items
	// wait. An item that finds no batch written within the last Linger
	// still goes at once. 0: no spacing.
	Linger time.Duration
	// Gather: after a batch of n > 1 items, the next one waits up to Gather
	// for n more items than wait when the batch ends, unless MaxItems
	// wait. The n callers just answered are often about to send again
	// (a sender that waits for each answer before its next item); without
	// the wait, a fixed number of such senders splits into two batches
	// that take turns. A batch of one item is never followed by a wait.
	// 0: no waiting.
	Gather time.Duration
}

// Committer batches the items of concurrent Do calls.
type Committer[T, R any] struct {
	commit CommitFunc[T, R]
	opts   Options
	// idle is called, under the Group's lock, when the Committer has
	// nothing queued or in flight.
	idle func()

	mu       *sync.Mutex
	queue    []*call[T, R]
	inFlight int
	// full, while a writer lingers or gathers, is closed when want items
	// wait.
	full chan struct{}
	want int
}

type call[T, R any] struct {
	item   T
	result R
	err    error
	done   chan struct{}
}

// New returns a Committer that writes with commit.
func New[T, R any](commit CommitFunc[T, R], opts Options) *Committer[T, R] {
	return newCommitter(commit, withDefaults(opts), &sync.Mutex{}, nil)
}

func withDefaults(opts Options) Options {
	if opts.MaxItems <= 0 {
		opts.MaxItems = 100
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 2
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	return opts
}

func newCommitter[T, R any](commit CommitFunc[T, R], opts Options, mu *sync.Mutex, idle func()) *Committer[T, R] {
	return &Committer[T, R]{commit: commit, opts: opts, mu: mu, idle: idle}
}

// Do writes item in a batch and returns its result. It returns early with
// ctx's error when ctx ends first; the item may still be written.
func (c *Committer[T, R]) Do(ctx context.Context, item T) (R, error) {
	c.mu.Lock()
	cl := c.enqueue(item)
	c.mu.Unlock()
	return cl.wait(ctx)
}

// enqueue queues item and starts a writer if fewer than MaxInFlight run.
// The caller holds c.mu.
func (c *Committer[T, R]) enqueue(item T) *call[T, R] {
	cl := &call[T, R]{item: item, done: make(chan struct{})}
	c.queue = append(c.queue, cl)
	if c.full != nil && len(c.queue) >= c.want {
		close(c.full)
		c.full = nil
	}
	if c.inFlight < c.opts.MaxInFlight {
		c.inFlight++
		go c.run()
	}
	return cl
}

func (cl *call[T, R]) wait(ctx context.Context) (R, error) {
	select {
	case <-cl.done:
		return cl.result, cl.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// run writes batches while items wait.
func (c *Committer[T, R]) run() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.inFlight--
			if c.inFlight == 0 && c.idle != nil {
				c.idle()
			}
			c.mu.Unlock()
			return
		}
		n := min(len(c.queue), c.opts.MaxItems)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		if len(c.queue) == 0 {
			c.queue = nil // let the backing array go
		}
		c.mu.Unlock()
		start := time.Now()
		c.write(batch)
		c.linger(start)
		if n > 1 && c.opts.Gather > 0 {
			c.waitFor(n, c.opts.Gather)
		}
	}
}

// linger waits until Linger has passed since start, or until MaxItems
// items wait.
func (c *Committer[T, R]) linger(start time.Time) {
	if wait := c.opts.Linger - time.Since(start); wait > 0 {
		c.waitFor(c.opts.MaxItems, wait)
	}
}

// waitFor waits up to d until more items than wait now (at most
// MaxItems) are queued. One writer waits at a time: another goes on.
func (c *Committer[T, R]) waitFor(more int, d time.Duration) {
	c.mu.Lock()
	want := min(len(c.queue)+more, c.opts.MaxItems)
	if len(c.queue) >= want || c.full != nil {
		c.mu.Unlock()
		return
	}
	full := make(chan struct{})
	c.full, c.want = full, want
	c.mu.Unlock()
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-full:
		t.Stop()
	}
	c.mu.Lock()
	if c.full == full {
		c.full = nil
	}
	c.mu.Unlock()
}

func (c *Committer[T, R]) write(batch []*call[T, R]) {
	items := make([]T, len(batch))
	for i, cl := range batch {
		items[i] = cl.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	results, err := c.safeCommit(ctx, items)
	if err == nil && len(results) != len(items) {
		err = fmt.Errorf("the batch write returned %d results for %d items", len(results), len(items))
	}
	for i, cl := range batch {
		if err != nil {
			cl.err = err
		} else {
			cl.result = results[i]
		}
		close(cl.done)
	}
}

// safeCommit turns a panic of commit into an error for the batch: the
// callers must not wait forever.
func (c *Committer[T, R]) safeCommit(ctx context.Context, items []T) (results []R, err error) {
	defer func() {
		if r := recover(); r != nil {
			results, err = nil, fmt.Errorf("the batch write failed: %v", r)
		}
	}()
	return c.commit(ctx, items)
}

// Group keeps a Committer per key (such as a namespace) while it has work,
// for writes that batch only within a key.
type Group[K comparable, T, R any] struct {
	commit func(ctx context.Context, key K, items []T) ([]R, error)
	opts   Options

	mu         sync.Mutex
	committers map[K]*Committer[T, R]
}

// NewGroup returns a Group that writes the batches of a key with commit.
func NewGroup[K comparable, T, R any](commit func(ctx context.Context, key K, items []T) ([]R, error), opts Options) *Group[K, T, R] {
	return &Group[K, T, R]{commit: commit, opts: withDefaults(opts), committers: map[K]*Committer[T, R]{}}
}

// Do writes item in a batch of key's items.
func (g *Group[K, T, R]) Do(ctx context.Context, key K, item T) (R, error) {
	// One lock for the Group and its Committers: a Committer found here
	// cannot go idle and leave the map before the item is queued.
	g.mu.Lock()
	c, ok := g.committers[key]
	if !ok {
		var fresh *Committer[T, R]
		fresh = newCommitter(func(ctx context.Context, items []T) ([]R, error) {
			return g.commit(ctx, key, items)
		}, g.opts, &g.mu, func() {
			if g.committers[key] == fresh {
				delete(g.committers, key)
			}
		})
		c = fresh
		g.committers[key] = c
	}
	cl := c.enqueue(item)
	g.mu.Unlock()
	return cl.wait(ctx)
}

// Len is how many keys have work now.
func (g *Group[K, T, R]) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.committers)
}
