package apiserver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestOnlyOneReplicaLeadsAndAnotherTakesOver(t *testing.T) {
	kube := kubefake.NewClientset()
	cfg := LeaderElection{Enabled: true, Namespace: "ns", Name: "lease",
		LeaseDuration: 1500 * time.Millisecond, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond}

	var leading, maxLeading atomic.Int32
	ledBy := make(chan int, 10)
	work := func(replica int) func(context.Context) {
		return func(ctx context.Context) {
			n := leading.Add(1)
			for {
				if m := maxLeading.Load(); n <= m || maxLeading.CompareAndSwap(m, n) {
					break
				}
			}
			ledBy <- replica
			<-ctx.Done()
			leading.Add(-1)
		}
	}

	ctxs := make([]context.Context, 2)
	cancels := make([]context.CancelFunc, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		ctxs[i], cancels[i] = context.WithCancel(context.Background())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runAsLeader(ctxs[i], kube, cfg, work(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()

	var first int
	select {
	case first = <-ledBy:
	case <-time.After(10 * time.Second):
		t.Fatal("no replica became leader")
	}
	time.Sleep(time.Second) // both keep campaigning
	if maxLeading.Load() != 1 {
		t.Fatalf("%d replicas led at once", maxLeading.Load())
	}

	cancels[first]() // the leader stops (and releases the Lease)
	select {
	case second := <-ledBy:
		if second == first {
			t.Errorf("replica %d led again after it stopped", second)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other replica never took over")
	}
	if maxLeading.Load() != 1 {
		t.Errorf("%d replicas led at once", maxLeading.Load())
	}
}

func TestWithoutLeaderElectionWorkRunsAtOnce(t *testing.T) {
	ran := false
	if err := runAsLeader(context.Background(), nil, LeaderElection{}, func(context.Context) { ran = true }); err != nil || !ran {
		t.Errorf("work ran %v, err %v", ran, err)
	}
}
