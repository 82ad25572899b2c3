package apiserver

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// LeaderElection configures which replica runs the loops that have side
// effects (the reconciler now, delivery later): the holder of a
// coordination.k8s.io Lease in the Kubernetes API.
type LeaderElection struct {
	// Enabled runs the loops only while holding the Lease; when false,
	// every replica runs them (fine for one replica).
	Enabled   bool
	Namespace string
	Name      string
	// LeaseDuration, RenewDeadline and RetryPeriod default to 15s, 10s, 2s.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Validate checks the Lease timings as the leader elector will, so that
// a bad combination stops the server at start rather than leaving it
// serving without ever running the loops.
func (c LeaderElection) Validate() []error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	lease, renew, retry := c.timings()
	if lease <= renew {
		errs = append(errs, fmt.Errorf("--leader-elect-lease-duration (%s) must be longer than --leader-elect-renew-deadline (%s)", lease, renew))
	}
	if renew <= time.Duration(leaderelection.JitterFactor*float64(retry)) {
		errs = append(errs, fmt.Errorf("--leader-elect-renew-deadline (%s) must be longer than %v times --leader-elect-retry-period (%s)",
			renew, leaderelection.JitterFactor, retry))
	}
	if c.Name == "" || c.Namespace == "" {
		errs = append(errs, fmt.Errorf("--leader-elect-lease-name and --leader-elect-namespace must not be empty"))
	}
	return errs
}

// timings are the lease duration, renew deadline and retry period, with
// defaults for those not set.
func (c LeaderElection) timings() (lease, renew, retry time.Duration) {
	return orDefault(c.LeaseDuration, 15*time.Second), orDefault(c.RenewDeadline, 10*time.Second), orDefault(c.RetryPeriod, 2*time.Second)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// runAsLeader runs work whenever this replica holds the Lease, until ctx
// ends; work's context ends when the Lease is lost.
func runAsLeader(ctx context.Context, kube kubernetes.Interface, cfg LeaderElection, work func(context.Context)) error {
	if !cfg.Enabled {
		work(ctx)
		return nil
	}
	host, _ := os.Hostname()
	identity := host + "_" + uuid.NewString()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metaFor(cfg),
		Client:     kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	leaseDuration, renewDeadline, retryPeriod := cfg.timings()
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   leaseDuration,
		RenewDeadline:   renewDeadline,
		RetryPeriod:     retryPeriod,
		ReleaseOnCancel: true,
		Name:            cfg.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				klog.InfoS("Leading: running the loops", "lease", cfg.Namespace+"/"+cfg.Name, "identity", identity)
				work(ctx)
			},
			OnStoppedLeading: func() {
				klog.InfoS("Not leading", "lease", cfg.Namespace+"/"+cfg.Name, "identity", identity)
			},
		},
	})
	if err != nil {
		return fmt.Errorf("configuring leader election: %w", err)
	}
	// The identity is what the Lease's holderIdentity shows: log it, so
	// that the holder can be told from the other replicas.
	klog.InfoS("Campaigning for the Lease", "lease", cfg.Namespace+"/"+cfg.Name, "identity", identity,
		"leaseDuration", leaseDuration, "renewDeadline", renewDeadline, "retryPeriod", retryPeriod)
	// Run returns when leadership is lost: campaign again until ctx ends.
	wait.UntilWithContext(ctx, elector.Run, retryPeriod)
	return nil
}

func metaFor(cfg LeaderElection) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name}
}
