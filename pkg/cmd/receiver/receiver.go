// Package receiver is the `notification-apiserver receiver` command: the
// Flux-compatible event receiver sidecar.
package receiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"

	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	"github.com/notification-apiserver/notification-apiserver/pkg/receiver"
)

// Options are the receiver's settings.
type Options struct {
	Listen     string
	Kubeconfig string
	Timeout    time.Duration
	RetryAfter time.Duration
	QPS        float32
	Burst      int
	// MaxBatch, BatchGather: see receiver.Handler.
	MaxBatch    int
	BatchGather time.Duration
	// Server, when set, is where events are stored instead of the
	// kubeconfig's server: notification-apiserver in the receiver's own
	// pod, under the same authentication and authorization.
	Server, ServerCAFile, ServerName string
	// MaxProcs is how many threads run the receiver's Go code at once
	// (GOMAXPROCS); 0 leaves Go's own choice.
	//
	// The receiver does little with each event but hand it on: from the
	// sender's connection to the batch, to the request that stores it,
	// and back with the answer. Each hand-off to a goroutine that another
	// processor should run wakes a sleeping thread, which is dear where
	// threads are virtual CPUs of a nested virtual machine, as on the
	// machines of make bench. On one processor the goroutines take turns
	// on the same thread: in five alternating runs of 4,000 events with 8
	// senders, the receiver's CPU per event fell 95 → 74 µs, the whole
	// machine's 601 → 544 µs, and the rate rose 2,663 → 2,865 events/s.
	// At 74 µs an event, one processor would be busy at about 13,000
	// events/s.
	MaxProcs int
	// maxProcsFromEnv: GOMAXPROCS is set and --max-procs was not given.
	maxProcsFromEnv bool
}

// NewCommand returns the receiver command.
func NewCommand() *cobra.Command {
	cmd, _ := newCommand()
	return cmd
}

// newCommand returns the receiver command and the options its flags set.
func newCommand() (*cobra.Command, *Options) {
	o := &Options{Listen: ":9090", Timeout: 15 * time.Second, RetryAfter: 5 * time.Minute, MaxBatch: 100, BatchGather: receiver.DefaultBatchGather, MaxProcs: 1}
	cmd := &cobra.Command{
		Use:   "receiver",
		Short: "Receive Flux events (what controllers send with --events-addr) and store them as Events",
		Long: "receiver accepts Flux's event JSON on POST at any path, as Flux's notification-controller does,\n" +
			"and creates each event as an Event through the Kubernetes API with its service account.\n" +
			"It answers 202 on success, 429 with Retry-After on a duplicate, 400 on a malformed or incomplete\n" +
			"event, 413 above 3 MiB, and 503 when the API is unavailable, so that senders retry.",
		SilenceUsage: true,
		Args:         cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.maxProcsFromEnv = os.Getenv("GOMAXPROCS") != "" && !c.Flags().Changed("max-procs")
			return o.Run(c.Context())
		},
	}
	var fss cliflag.NamedFlagSets
	fs := fss.FlagSet("receiver")
	fs.StringVar(&o.Listen, "listen", o.Listen, "Address to accept events on.")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "Kubeconfig of the Kubernetes API; in-cluster configuration when empty.")
	fs.DurationVar(&o.Timeout, "api-timeout", o.Timeout, "Longest wait for the Kubernetes API to store one event.")
	fs.Float32Var(&o.QPS, "kube-api-qps", o.QPS, "Requests per second to the Kubernetes API; 0 leaves the pace to the API's own flow control (429s become 503s for the sender).")
	fs.IntVar(&o.Burst, "kube-api-burst", o.Burst, "Burst of requests above --kube-api-qps.")
	fs.StringVar(&o.Server, "api-server", o.Server, "URL of notification-apiserver to store events in directly (e.g. https://localhost:8443, the server in the same pod), with the kubeconfig's credentials; empty: the kubeconfig's server (the kube-apiserver, through its aggregation layer).")
	fs.StringVar(&o.ServerCAFile, "api-server-ca-file", o.ServerCAFile, "CA bundle verifying --api-server's certificate.")
	fs.StringVar(&o.ServerName, "api-server-name", o.ServerName, "Name expected in --api-server's certificate, when not the URL's host (e.g. notification-apiserver.notification-system.svc).")
	fs.IntVar(&o.MaxBatch, "max-batch-events", o.MaxBatch, "Most events of a namespace stored in one request (an EventBatch, one etcd transaction) when they arrive together; 1 creates each alone.")
	fs.DurationVar(&o.BatchGather, "batch-gather", o.BatchGather, "After a batch of several events, how long the next batch of the namespace waits for as many more (their senders, just answered, tend to post again at once) before it goes; 0: it goes at once. An event after a lone event's batch never waits.")
	fs.DurationVar(&o.RetryAfter, "duplicate-retry-after", o.RetryAfter, "What the Retry-After of a duplicate tells the sender (the dedup window).")
	fs.IntVar(&o.MaxProcs, "max-procs", o.MaxProcs, "Threads that run the receiver's Go code at once (GOMAXPROCS): it mostly hands events on, and on one its goroutines do not wake other threads for that (at about 75 µs an event, one is busy at about 13,000 events/s); 0: Go's default, the CPUs available. GOMAXPROCS in the environment wins over the default.")
	cmd.Flags().AddFlagSet(fs)
	// Its own help: the server's flags are not the receiver's.
	cliflag.SetUsageAndHelpFunc(cmd, fss, 100)
	return cmd, o
}

// Validate names each flag whose value cannot work.
func (o *Options) Validate() error {
	var errs []error
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--api-timeout must be positive, got %s", o.Timeout))
	}
	if o.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("--max-batch-events must not be negative, got %d", o.MaxBatch))
	}
	if o.BatchGather < 0 {
		errs = append(errs, fmt.Errorf("--batch-gather must not be negative, got %s", o.BatchGather))
	}
	if o.MaxProcs < 0 {
		errs = append(errs, fmt.Errorf("--max-procs must not be negative, got %d", o.MaxProcs))
	}
	return errors.Join(errs...)
}

// setMaxProcs sets GOMAXPROCS to --max-procs, unless that is 0 or the
// environment set it and the flag was not given.
func (o *Options) setMaxProcs() {
	if o.MaxProcs > 0 && !o.maxProcsFromEnv {
		runtime.GOMAXPROCS(o.MaxProcs)
	}
}

// Run serves until ctx ends, then drains for up to 5 seconds.
func (o *Options) Run(ctx context.Context) error {
	if err := o.Validate(); err != nil {
		return err
	}
	o.setMaxProcs()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.Kubeconfig}, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	if o.Server != "" {
		cfg.Host = o.Server
		if o.ServerCAFile != "" {
			cfg.TLSClientConfig.CAFile, cfg.TLSClientConfig.CAData = o.ServerCAFile, nil
		}
		if o.ServerName != "" {
			cfg.TLSClientConfig.ServerName = o.ServerName
		}
	}
	receiver.ConfigureClient(cfg, o.QPS, o.Burst)
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		return err
	}
	srv := receiver.NewServer(o.Listen,
		&receiver.Handler{Client: client, Timeout: o.Timeout, RetryAfter: o.RetryAfter, MaxBatch: o.MaxBatch, BatchGather: o.BatchGather})
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	klog.InfoS("Receiving Flux events", "address", o.Listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
