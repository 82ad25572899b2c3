package server

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/component-base/featuregate"
)

// parse applies command-line arguments to fresh options, as the command does.
func parse(t *testing.T, args ...string) *Options {
	t.Helper()
	o := NewOptions()
	fs := pflag.NewFlagSet("notification-apiserver", pflag.ContinueOnError)
	for _, f := range o.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestLeaderElectionFlagsSetTheLeaseAndItsTimings(t *testing.T) {
	o := parse(t, "--etcd-servers=http://127.0.0.1:2379",
		"--leader-elect-namespace=flux-system", "--leader-elect-lease-name=notification-b",
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s")
	le := o.LeaderElection
	if !le.Enabled || le.Namespace != "flux-system" || le.Name != "notification-b" ||
		le.LeaseDuration != 4*time.Second || le.RenewDeadline != 3*time.Second || le.RetryPeriod != time.Second {
		t.Errorf("leader election %+v", le)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("valid timings refused: %v", err)
	}
}

func TestLeaderElectionDefaultsAreKubernetesOwn(t *testing.T) {
	le := parse(t).LeaderElection
	if le.Name != "notification-apiserver" || le.LeaseDuration != 15*time.Second ||
		le.RenewDeadline != 10*time.Second || le.RetryPeriod != 2*time.Second {
		t.Errorf("defaults %+v", le)
	}
}

func TestLeaseTimingsTheElectorWouldRefuseStopTheServerAtStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error; empty when valid
	}{
		{"a renew deadline as long as the lease", []string{"--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=3s"},
			"--leader-elect-lease-duration (3s) must be longer"},
		{"a retry period too close to the renew deadline", []string{"--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=2s"},
			"--leader-elect-renew-deadline (2s) must be longer than 1.2 times"},
		{"an empty lease name", []string{"--leader-elect-lease-name="}, "must not be empty"},
		{"bad timings without leader election", []string{"--leader-elect=false", "--leader-elect-lease-duration=1s"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parse(t, append([]string{"--etcd-servers=http://127.0.0.1:2379"}, tc.args...)...).Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestTheCollectorFlagsAreReadAndANegativeHeadroomRefused(t *testing.T) {
	o := parse(t, "--etcd-servers=http://127.0.0.1:2379", "--gc-percent=150", "--gc-min-headroom-mib=32")
	if o.GCPercent != 150 || o.GCMinHeadroomMiB != 32 {
		t.Errorf("--gc-percent=150 --gc-min-headroom-mib=32 read as %d and %d", o.GCPercent, o.GCMinHeadroomMiB)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("refused: %v", err)
	}
	err := parse(t, "--etcd-servers=http://127.0.0.1:2379", "--gc-min-headroom-mib=-1").Validate()
	if err == nil || !strings.Contains(err.Error(), "--gc-min-headroom-mib must not be negative") {
		t.Errorf("a negative headroom: %v", err)
	}
}

func TestTheServerTurnsOffTheGatesThatCostItAndTheFlagTurnsThemBackOn(t *testing.T) {
	gates := []featuregate.Feature{
		features.ListFromCacheSnapshot,
		features.APIResponseCompression,
		features.WatchListCompression,
		features.ConcurrentWatchObjectDecode,
	}
	parse(t)
	for _, g := range gates {
		if utilfeature.DefaultFeatureGate.Enabled(g) {
			t.Errorf("%s is on by default", g)
		}
	}
	parse(t, "--feature-gates=ConcurrentWatchObjectDecode=true,WatchListCompression=true")
	for _, g := range gates {
		want := g == features.ConcurrentWatchObjectDecode || g == features.WatchListCompression
		if got := utilfeature.DefaultFeatureGate.Enabled(g); got != want {
			t.Errorf("with --feature-gates=ConcurrentWatchObjectDecode=true,WatchListCompression=true, %s is %v", g, got)
		}
	}
	// Back to the defaults, for the tests after this one.
	parse(t)
}
