package event

import (
	"context"
	"fmt"
	"testing"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// change is a watch change of an Event named name.
func change(name string) watch.Event {
	return watch.Event{Type: watch.Modified, Object: &notification.Event{ObjectMeta: metav1.ObjectMeta{Name: name}}}
}

// receive takes the next change, failing the test after a long wait.
func receive(t *testing.T, w watch.Interface) (watch.Event, bool) {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		return e, ok
	case <-time.After(30 * time.Second):
		t.Fatal("no change came")
		return watch.Event{}, false
	}
}

// receiveNames takes n changes and returns their Events' names.
func receiveNames(t *testing.T, w watch.Interface, n int) []string {
	t.Helper()
	var names []string
	for range n {
		e, ok := receive(t, w)
		if !ok {
			t.Fatalf("the watch closed after %v", names)
		}
		names = append(names, e.Object.(*notification.Event).Name)
	}
	return names
}

// nothingYet fails the test if a change comes within a short while.
func nothingYet(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		t.Fatalf("got %v (open: %v) before the group was due", e, ok)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestAFullGroupOfChangesGoesOutInOrderWithoutWaitingForItsWindow(t *testing.T) {
	under := watch.NewFakeWithChanSize(16, false)
	w := inGroups(under, time.Hour, 4, false)
	defer w.Stop()
	for i := range 3 {
		under.Modify(change(fmt.Sprint(i)).Object)
	}
	nothingYet(t, w)
	under.Modify(change("3").Object)
	if got, want := fmt.Sprint(receiveNames(t, w, 4)), "[0 1 2 3]"; got != want {
		t.Errorf("changes %s, want %s", got, want)
	}
	under.Modify(change("4").Object)
	nothingYet(t, w)
}

func TestAGroupGoesOutWhenItsWindowEnds(t *testing.T) {
	under := watch.NewFakeWithChanSize(16, false)
	w := inGroups(under, 10*time.Millisecond, 256, false)
	defer w.Stop()
	for round := range 3 {
		for i := range 3 {
			under.Action(watch.Added, change(fmt.Sprintf("%d-%d", round, i)).Object)
		}
		want := fmt.Sprintf("[%d-0 %d-1 %d-2]", round, round, round)
		if got := fmt.Sprint(receiveNames(t, w, 3)); got != want {
			t.Errorf("round %d: changes %s, want %s", round, got, want)
		}
	}
}

func TestAnEndedWatchSendsTheGroupInHandThenCloses(t *testing.T) {
	under := watch.NewFakeWithChanSize(16, false)
	w := inGroups(under, time.Hour, 256, false)
	under.Add(change("a").Object)
	under.Error(&metav1.Status{Message: "too old"})
	under.Stop()
	if got := receiveNames(t, w, 1); got[0] != "a" {
		t.Errorf("first change %v, want a", got)
	}
	if e, ok := receive(t, w); !ok || e.Type != watch.Error {
		t.Errorf("second change %v (open: %v), want the error", e, ok)
	}
	if e, ok := receive(t, w); ok {
		t.Errorf("got %v after the watch under ended, want the channel closed", e)
	}
}

func TestStoppingAGroupedWatchClosesItAndStopsTheWatchUnder(t *testing.T) {
	under := watch.NewFakeWithChanSize(16, false)
	w := inGroups(under, time.Hour, 256, false)
	under.Add(change("waiting").Object)
	w.Stop()
	w.Stop()
	if !under.IsStopped() {
		t.Error("the watch under was not stopped")
	}
	for {
		// A change already in the channel may still come; then it closes.
		if _, ok := receive(t, w); !ok {
			break
		}
	}
}

func TestOnlyEventWatchesServedOverHTTPComeInGroups(t *testing.T) {
	r := newStorage(t, clocktesting.NewFakeClock(time.Now()))
	ns := genericapirequest.WithNamespace(context.Background(), "apps")
	for _, c := range []struct {
		name    string
		ctx     context.Context
		grouped bool
	}{
		{"in-process (the delivery loop's)", ns, false},
		{"over HTTP", genericapirequest.WithRequestInfo(ns, &genericapirequest.RequestInfo{Verb: "watch", Resource: "events"}), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, err := r.Watch(c.ctx, &metainternalversion.ListOptions{ResourceVersion: "0"})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			if _, grouped := w.(*groupedWatch); grouped != c.grouped {
				t.Fatalf("grouped %v, want %v", grouped, c.grouped)
			}
			e, err := create(t, r, newEvent("watched "+c.name))
			if err != nil {
				t.Fatal(err)
			}
			// The Events of the cases before come first, as added.
			for {
				got, ok := receive(t, w)
				if !ok || got.Type != watch.Added {
					t.Fatalf("got %v (open: %v), want %s added", got.Type, ok, e.Name)
				}
				if got.Object.(*notification.Event).Name == e.Name {
					break
				}
			}
		})
	}
}

func TestBookmarksGoOnlyToWatchersWhoAskedForThem(t *testing.T) {
	for _, asked := range []bool{false, true} {
		under := watch.NewFakeWithChanSize(16, false)
		w := inGroups(under, time.Hour, 3, asked)
		under.Add(change("a").Object)
		under.Action(watch.Bookmark, change("").Object)
		under.Add(change("b").Object)
		under.Add(change("c").Object)
		var got []watch.EventType
		for range 3 {
			e, _ := receive(t, w)
			got = append(got, e.Type)
		}
		want := "[ADDED ADDED ADDED]"
		if asked {
			want = "[ADDED BOOKMARK ADDED]"
		}
		if fmt.Sprint(got) != want {
			t.Errorf("asked for bookmarks %v: got %v, want %s", asked, got, want)
		}
		w.Stop()
	}
}
