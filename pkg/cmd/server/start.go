// Package server holds the options of notification-apiserver and runs it.
package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/versioning"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/features"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/notification-apiserver/notification-apiserver/pkg/admission/initializer"
	"github.com/notification-apiserver/notification-apiserver/pkg/admission/notificationpolicy"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/apiserver"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
	generatedopenapi "github.com/notification-apiserver/notification-apiserver/pkg/generated/openapi"
	eventstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/event"
)

const etcdPathPrefix = "/registry/notification.toolkit.fluxcd.io"

// Options are the settings of notification-apiserver.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions

	// EmbeddedEtcdDir is where the embedded etcd keeps its data when no
	// --etcd-servers are given.
	EmbeddedEtcdDir string
	// AlternateDNS are extra names for the self-signed serving certificate.
	AlternateDNS []string
	// AddressPolicy is the operator's rule on where Providers may send.
	AddressPolicy address.Policy
	// LeaderElection picks the replica that runs the reconciler.
	LeaderElection apiserver.LeaderElection
	// Events are the retention and dedup window of Events.
	Events eventstorage.Options
	// ShutdownWatchGrace bounds how long a shutdown waits for open watches.
	ShutdownWatchGrace time.Duration
	// Delivery tunes the delivery loop.
	Delivery delivery.Options
	// ReturnIdleMemory gives the heap's unused memory back to the
	// operating system when the server goes quiet (see idleMemory).
	ReturnIdleMemory bool
	// GCPercent is the collector's target, as GOGC, GCMinHeadroomMiB the
	// least the heap may grow by between collections, and GCMaxHeadroomMiB
	// the most it may grow by under load (see gcHeadroom).
	GCPercent        int
	GCMinHeadroomMiB int
	GCMaxHeadroomMiB int

	etcd    *embeddedEtcd
	storage *inProcessStorage // on etcd, when embedded
	// etcdClient writes batches of Events (see Config).
	etcdClient *clientv3.Client
	// etcdKV is the in-process client's KV API (nil for --etcd-servers).
	etcdKV etcdserverpb.KVClient
}

// NewOptions returns the default options.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions(
			etcdPathPrefix,
			apiserver.Codecs.LegacyCodec(v1beta2.SchemeGroupVersion),
		),
		EmbeddedEtcdDir:    "notification-apiserver.etcd",
		Events:             eventstorage.Options{Retention: time.Hour, DedupWindow: 5 * time.Minute, MaxPending: 10000},
		ShutdownWatchGrace: 5 * time.Second,
		ReturnIdleMemory:   true,
		GCPercent:          gcPercentDefault(os.Getenv),
		GCMinHeadroomMiB:   64,
		GCMaxHeadroomMiB:   256,
		LeaderElection: apiserver.LeaderElection{
			Enabled:   true,
			Namespace: defaultNamespace(),
			Name:      "notification-apiserver",
			// As kube-controller-manager's defaults.
			LeaseDuration: 15 * time.Second,
			RenewDeadline: 10 * time.Second,
			RetryPeriod:   2 * time.Second,
		},
	}
	o.RecommendedOptions.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(
		v1beta2.SchemeGroupVersion, schema.GroupKind{Group: v1beta2.GroupName})
	// Events are written once or twice and read by the delivery loop's one
	// watch of the pending ones: a watch cache would hold every Event of
	// the retention period in memory for nothing. --watch-cache-sizes
	// can turn it back on.
	o.RecommendedOptions.Etcd.WatchCacheSizes = []string{"events." + v1beta2.GroupName + "#0"}
	// etcd holds protobuf: decoding it is several times cheaper than JSON,
	// and without a watch cache every Event write is decoded per watcher.
	o.RecommendedOptions.Etcd.DefaultStorageMediaType = runtime.ContentTypeProtobuf
	return o
}

// storageCodec writes objects to etcd as v1beta2 in mediaType and reads
// any encoding back (data written as JSON before stays readable).
func storageCodec(mediaType string) (runtime.Codec, error) {
	info, ok := runtime.SerializerInfoForMediaType(apiserver.Codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return nil, fmt.Errorf("--storage-media-type %q is not supported", mediaType)
	}
	return versioning.NewDefaultingCodecForScheme(apiserver.Scheme, info.Serializer, apiserver.Codecs.UniversalDeserializer(),
		schema.GroupVersions{v1beta2.SchemeGroupVersion}, runtime.InternalGroupVersioner), nil
}

// Flags returns the command-line flags, in named sections for --help.
func (o *Options) Flags() cliflag.NamedFlagSets {
	var fss cliflag.NamedFlagSets
	ro := o.RecommendedOptions
	ro.Etcd.AddFlags(fss.FlagSet("etcd"))
	fs := fss.FlagSet("etcd")
	fs.StringVar(&o.EmbeddedEtcdDir, "embedded-etcd-dir", o.EmbeddedEtcdDir,
		"Directory of the embedded etcd server, started in this process when --etcd-servers is empty. "+
			"Its data survives restarts. Embedded etcd serves one replica only: replicas must share --etcd-servers.")
	ro.SecureServing.AddFlags(fss.FlagSet("secure serving"))
	fss.FlagSet("secure serving").DurationVar(&o.ShutdownWatchGrace, "shutdown-watch-termination-grace-period", o.ShutdownWatchGrace,
		"On SIGTERM, how long open watches (such as the kube-controller-manager's, through the aggregator) may drain "+
			"before they are ended. Without it, a shutdown waits for them until the request timeout.")
	fss.FlagSet("secure serving").StringSliceVar(&o.AlternateDNS, "alternate-dns", o.AlternateDNS,
		"Extra DNS names for the self-signed serving certificate made when --tls-cert-file is not given, "+
			"such as the <service>.<namespace>.svc name the aggregator verifies.")
	if ro.Authentication != nil {
		ro.Authentication.AddFlags(fss.FlagSet("authentication"))
	}
	if ro.Authorization != nil {
		ro.Authorization.AddFlags(fss.FlagSet("authorization"))
	}
	ro.Audit.AddFlags(fss.FlagSet("auditing"))
	ro.Features.AddFlags(fss.FlagSet("features"))
	if ro.CoreAPI != nil {
		ro.CoreAPI.AddFlags(fss.FlagSet("kubernetes API"))
	}
	if ro.Admission != nil {
		ro.Admission.AddFlags(fss.FlagSet("admission"))
	}
	efs := fss.FlagSet("events")
	efs.DurationVar(&o.Events.Retention, "event-retention", o.Events.Retention,
		"How long an Event is kept (then etcd expires it). Failed deliveries are retried until then, so make it "+
			"long enough to ride out a receiver's outage. At least --event-dedup-window.")
	efs.DurationVar(&o.Events.DedupWindow, "event-dedup-window", o.Events.DedupWindow,
		"How long the same event (same object, message, revision and token) is refused as a duplicate, "+
			"like Flux's --rate-limit-interval. After it, the same event is delivered again.")
	dfs := fss.FlagSet("delivery")
	dfs.IntVar(&o.Events.MaxPending, "max-pending-events", o.Events.MaxPending,
		"Refuse new Events (429, Retry-After; the receiver answers 503 so that Flux retries) while this many await delivery (counted by every replica); 0: no limit. "+
			"It bounds the memory and etcd space an outage of receivers can take.")
	dfs.IntVar(&o.Delivery.Workers, "delivery-workers", 16, "Events delivered in parallel: each worker waits for its receiver, not for the status write that records the outcome; at most this many delivered Events await that write (they share etcd transactions).")
	dfs.DurationVar(&o.Delivery.MinBackoff, "delivery-min-backoff", time.Second, "Wait before the first retry of a failed delivery; it doubles with each failure.")
	dfs.DurationVar(&o.Delivery.MaxBackoff, "delivery-max-backoff", 5*time.Minute, "Longest wait between two retries of a failed delivery. Retries go on until the Event expires.")
	dfs.BoolVar(&o.Delivery.Matcher.NoCrossNamespaceRefs, "no-cross-namespace-refs", false,
		"Alerts take only events of objects in their own namespace, as Flux's flag of that name.")
	lfs := fss.FlagSet("leader election")
	lfs.BoolVar(&o.LeaderElection.Enabled, "leader-elect", o.LeaderElection.Enabled,
		"Run the reconciler only in the replica that holds a coordination.k8s.io Lease, so that replicas sharing "+
			"--etcd-servers never act twice. Needs a Kubernetes API (--kubeconfig or in-cluster).")
	lfs.StringVar(&o.LeaderElection.Namespace, "leader-elect-namespace", o.LeaderElection.Namespace,
		"Namespace of the Lease (default: $POD_NAMESPACE, else notification-system).")
	lfs.StringVar(&o.LeaderElection.Name, "leader-elect-lease-name", o.LeaderElection.Name, "Name of the Lease.")
	lfs.DurationVar(&o.LeaderElection.LeaseDuration, "leader-elect-lease-duration", o.LeaderElection.LeaseDuration,
		"How long the other replicas wait, after the leader last renewed the Lease, before one of them takes over: "+
			"the longest pause in deliveries when the leader dies without releasing it.")
	lfs.DurationVar(&o.LeaderElection.RenewDeadline, "leader-elect-renew-deadline", o.LeaderElection.RenewDeadline,
		"How long the leader keeps trying to renew the Lease before it stops leading. Less than --leader-elect-lease-duration.")
	lfs.DurationVar(&o.LeaderElection.RetryPeriod, "leader-elect-retry-period", o.LeaderElection.RetryPeriod,
		"How often a replica tries to acquire or renew the Lease. Less than --leader-elect-renew-deadline.")
	afs := fss.FlagSet("address policy")
	afs.BoolVar(&o.AddressPolicy.DenyInternal, "address-policy-deny-internal", false,
		"Refuse Providers whose address or proxy is, or resolves to, a loopback, link-local (such as 169.254.169.254), "+
			"private, shared, multicast or unspecified IP address.")
	afs.BoolVar(&o.AddressPolicy.RequireHTTPS, "address-policy-require-https", false,
		"Refuse Providers whose address or proxy is plain http.")
	fss.FlagSet("memory").IntVar(&o.GCPercent, "gc-percent", o.GCPercent,
		"The Go collector's target (GOGC) where the heap is large: it may grow by this percentage of what the last "+
			"collection found live before the next; negative turns the collector off. The default is GOGC from the "+
			"environment, else 100. A memory limit goes in GOMEMLIMIT.")
	fss.FlagSet("memory").IntVar(&o.GCMinHeadroomMiB, "gc-min-headroom-mib", o.GCMinHeadroomMiB,
		"The least the heap may grow by between two collections, in MiB: where the live heap is small (tens of MB "+
			"without many Providers and Alerts) the collector's target is raised above --gc-percent to give it this "+
			"room. Under a burst of events it spares two thirds of the collector's CPU for at most this much memory. "+
			"0: no minimum (the target is --gc-percent but under load, see --gc-max-headroom-mib).")
	fss.FlagSet("memory").IntVar(&o.GCMaxHeadroomMiB, "gc-max-headroom-mib", o.GCMaxHeadroomMiB,
		"The most the heap may grow by between two collections while the server allocates fast, in MiB: under load "+
			"the room is what the server allocates in a second (a burst of events: about 150 MiB), between "+
			"--gc-min-headroom-mib and this, so that the collector runs about once a second; the memory goes back "+
			"after the burst. At or below --gc-min-headroom-mib the room does not follow the load.")
	fss.FlagSet("memory").BoolVar(&o.ReturnIdleMemory, "return-idle-memory", o.ReturnIdleMemory,
		"After a busy spell (start-up, a burst of events), once the server allocates under 1 MiB/s for 5 s while its heap "+
			"holds 8 MiB or more beyond its live objects, collect and give that memory back to the operating system "+
			"instead of keeping it for the next burst. It costs one garbage collection per busy spell.")
	ro.EgressSelector.AddFlags(fss.FlagSet("egress selector"))
	ro.Traces.AddFlags(fss.FlagSet("tracing"))
	// Snapshots of the watch cache at every resourceVersion serve
	// paginated LISTs from memory; here they held more memory than the
	// objects themselves (44 MiB with 10,000 Providers and 10,000 Alerts).
	// --feature-gates=ListFromCacheSnapshot=true turns them back on.
	// Compressed responses: every watch of Events (the delivery loop's,
	// the kube-controller-manager's garbage collector's through the
	// aggregator) was gzipped on each flush, 4% of the server's CPU under
	// a burst, for clients on the same host or network; the
	// kube-apiserver compresses for the clients beyond it.
	// --feature-gates=APIResponseCompression=true turns it back on.
	// Watches that begin with a watch list (sendInitialEvents, as the
	// kube-controller-manager's informers open them) were still gzipped
	// on each flush, under a gate of their own: 2.5-4% of the server's
	// CPU under a burst of events.
	// --feature-gates=WatchListCompression=true turns it back on.
	// Each watch of Events decoded every write in a goroutine of its own
	// (ConcurrentWatchObjectDecode, on by default since Kubernetes 1.37):
	// each started with a small stack and grew it while decoding, 40 µs
	// of copying per event, with two hand-offs more; on two cores nothing
	// is gained from decoding in parallel. Serial decoding cut the CPU per
	// event of a receiver burst by an eighth in make bench, and delivered
	// 12-16% faster. --feature-gates=ConcurrentWatchObjectDecode=true
	// turns it back on.
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{
		string(features.ListFromCacheSnapshot):       false,
		string(features.APIResponseCompression):      false,
		string(features.WatchListCompression):        false,
		string(features.ConcurrentWatchObjectDecode): false,
	}); err != nil {
		klog.ErrorS(err, "Could not change the default of a feature gate")
	}
	utilfeature.DefaultMutableFeatureGate.AddFlag(fss.FlagSet("features"))
	return fss
}

// Complete registers the admission plugin and starts the embedded etcd
// when no etcd servers are configured, before Validate, which requires
// --etcd-servers.
func (o *Options) Complete() error {
	if adm := o.RecommendedOptions.Admission; adm != nil {
		notificationpolicy.Register(adm.Plugins, o.AddressPolicy)
		adm.RecommendedPluginOrder = append(adm.RecommendedPluginOrder, notificationpolicy.PluginName)
	}
	if len(o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList) > 0 {
		return nil
	}
	e, err := startEmbeddedEtcd(o.EmbeddedEtcdDir)
	if err != nil {
		return err
	}
	o.etcd = e
	o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = []string{e.ClientURL()}
	klog.InfoS("Started embedded etcd", "dir", o.EmbeddedEtcdDir, "clientURL", e.ClientURL())
	return nil
}

// Validate checks the options.
func (o *Options) Validate() error {
	errs := o.RecommendedOptions.Validate()
	if o.Events.Retention <= 0 || o.Events.DedupWindow <= 0 {
		errs = append(errs, fmt.Errorf("--event-retention and --event-dedup-window must be positive"))
	} else if o.Events.DedupWindow > o.Events.Retention {
		errs = append(errs, fmt.Errorf("--event-dedup-window (%s) must not exceed --event-retention (%s)", o.Events.DedupWindow, o.Events.Retention))
	}
	if o.GCMinHeadroomMiB < 0 {
		errs = append(errs, fmt.Errorf("--gc-min-headroom-mib must not be negative, got %d", o.GCMinHeadroomMiB))
	}
	if o.GCMaxHeadroomMiB < 0 {
		errs = append(errs, fmt.Errorf("--gc-max-headroom-mib must not be negative, got %d", o.GCMaxHeadroomMiB))
	}
	errs = append(errs, o.LeaderElection.Validate()...)
	return utilerrors.NewAggregate(errs)
}

// newEtcdClient is the client that writes batches of Events: the
// embedded etcd's in-process client, or one to --etcd-servers with the
// storage's TLS settings.
func (o *Options) newEtcdClient() (*clientv3.Client, error) {
	if o.etcd != nil {
		o.etcdKV = o.etcd.InProcessKV()
		return o.etcd.InProcessClient(), nil
	}
	c := o.RecommendedOptions.Etcd.StorageConfig.Transport
	var tlsConfig *tls.Config
	if c.CertFile != "" || c.KeyFile != "" || c.TrustedCAFile != "" {
		info := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.TrustedCAFile}
		var err error
		if tlsConfig, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("reading the etcd client certificates: %w", err)
		}
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            c.ServerList,
		TLS:                  tlsConfig,
		DialTimeout:          20 * time.Second,
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the etcd client: %w", err)
	}
	return client, nil
}

// Close stops what Complete and Config started: the storage's clients
// before the etcd they call.
func (o *Options) Close() {
	if o.storage != nil {
		o.storage.Close()
		o.storage = nil
	}
	if o.etcdClient != nil {
		_ = o.etcdClient.Close()
		o.etcdClient = nil
	}
	if o.etcd != nil {
		o.etcd.Close()
		o.etcd = nil
	}
}

// Config builds the server configuration from the options.
func (o *Options) Config() (*apiserver.Config, error) {
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts(
		"localhost", o.AlternateDNS, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}
	codec, err := storageCodec(o.RecommendedOptions.Etcd.DefaultStorageMediaType)
	if err != nil {
		return nil, err
	}
	o.RecommendedOptions.Etcd.StorageConfig.Codec = codec
	cfg := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	namer := openapi.NewDefinitionNamer(apiserver.Scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title = "notification-apiserver"
	cfg.OpenAPIConfig.Info.Version = "v1beta2"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title = "notification-apiserver"
	cfg.OpenAPIV3Config.Info.Version = "v1beta2"
	cfg.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	// End open watches on shutdown, or http.Server.Shutdown waits for them.
	cfg.ShutdownWatchTerminationGracePeriod = o.ShutdownWatchGrace
	cfg.FeatureGate = utilfeature.DefaultFeatureGate

	var notificationInformers informers.SharedInformerFactory
	var localInformers *apiserver.LocalInformers
	newInformers := func(c *genericapiserver.RecommendedConfig) error {
		// Before the admission plugins ask for Secrets.
		watchUsableSecrets(c.SharedInformerFactory)
		// Protobuf: the informers decode every Provider and Alert change.
		loopback := rest.CopyConfig(c.LoopbackClientConfig)
		loopback.ContentType = "application/vnd.kubernetes.protobuf"
		// Compressing a watch to this very process costs CPU for nothing
		// (gzip was 5% of the server's CPU under a burst of events).
		loopback.DisableCompression = true
		client, err := versioned.NewForConfig(loopback)
		if err != nil {
			return fmt.Errorf("creating the loopback client: %w", err)
		}
		notificationInformers = informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithTransform(withoutManagedFields))
		// Providers and Alerts are read from the server's own storage, not
		// through the loopback client (encode, TLS, HTTP/2, decode per
		// change: about 5% of the server's CPU while Providers are created).
		localInformers = apiserver.NewLocalInformers(notificationInformers)
		return nil
	}
	o.RecommendedOptions.ExtraAdmissionInitializers = func(c *genericapiserver.RecommendedConfig) ([]admission.PluginInitializer, error) {
		if err := newInformers(c); err != nil {
			return nil, err
		}
		return []admission.PluginInitializer{initializer.New(notificationInformers)}, nil
	}
	err = o.RecommendedOptions.ApplyTo(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Authentication.Authenticator = withFrontProxyVerified(cfg.Authentication.Authenticator, cfg.Authentication.RequestHeaderConfig)
	if o.etcd != nil {
		// The embedded etcd is called in-process, not over its port.
		if o.storage, err = newInProcessStorage(o.etcd, cfg.RESTOptionsGetter, o.RecommendedOptions.Etcd); err != nil {
			return nil, err
		}
		cfg.RESTOptionsGetter = o.storage
	}
	if notificationInformers == nil { // no admission chain
		if err := newInformers(cfg); err != nil {
			return nil, err
		}
	}
	if err := stripSecretsManagedFields(cfg.SharedInformerFactory); err != nil {
		return nil, fmt.Errorf("setting up the Secret informer: %w", err)
	}
	if o.etcdClient == nil {
		if o.etcdClient, err = o.newEtcdClient(); err != nil {
			return nil, err
		}
	}
	extra := apiserver.ExtraConfig{
		EtcdClient:            o.etcdClient,
		EtcdKV:                o.etcdKV,
		NotificationInformers: notificationInformers,
		LocalInformers:        localInformers,
		KubeInformers:         cfg.SharedInformerFactory,
		LeaderElection:        o.LeaderElection,
		Events:                o.Events,
		Delivery:              o.Delivery,
	}
	extra.Delivery.AddressPolicy = o.AddressPolicy
	if cfg.ClientConfig != nil {
		if extra.KubeClient, err = kubernetes.NewForConfig(cfg.ClientConfig); err != nil {
			return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
		}
		if extra.Delivery.Matcher.Labels, err = delivery.KubeLabels(cfg.ClientConfig); err != nil {
			return nil, fmt.Errorf("creating the label reader: %w", err)
		}
	}
	return &apiserver.Config{GenericConfig: cfg, ExtraConfig: extra}, nil
}

// Run serves until ctx is done, then shuts down gracefully.
func (o *Options) Run(ctx context.Context) error {
	debug.SetGCPercent(o.GCPercent)
	if o.GCMinHeadroomMiB > 0 || o.GCMaxHeadroomMiB > 0 {
		go gcHeadroom{
			percent: o.GCPercent, min: uint64(o.GCMinHeadroomMiB) << 20, max: uint64(o.GCMaxHeadroomMiB) << 20,
			spacing: time.Second, period: 250 * time.Millisecond,
		}.run(ctx)
	}
	defer o.Close()
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	s, err := cfg.Complete().New()
	if err != nil {
		return err
	}
	if o.ReturnIdleMemory {
		go defaultIdleMemory.run(ctx)
	}
	return s.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

// NewCommand returns the notification-apiserver command.
func NewCommand(ctx context.Context) *cobra.Command {
	o := NewOptions()
	cmd := &cobra.Command{
		Use:   "notification-apiserver",
		Short: "Serve the Flux notification API (Provider, Alert) as a Kubernetes aggregated API server",
		Long: "notification-apiserver serves notification.toolkit.fluxcd.io/v1beta2 Providers and Alerts\n" +
			"from its own etcd storage, behind the kube-apiserver's aggregation layer.\n" +
			"Without --etcd-servers it runs an embedded etcd in --embedded-etcd-dir.",
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				o.Close()
				return err
			}
			return o.Run(c.Context())
		},
	}
	cmd.SetContext(ctx)
	fss := o.Flags()
	for _, fs := range fss.FlagSets {
		cmd.Flags().AddFlagSet(fs)
	}
	cliflag.SetUsageAndHelpFunc(cmd, fss, 100)
	return cmd
}

// defaultNamespace is the namespace the server runs in: $POD_NAMESPACE
// (from the downward API), else notification-system.
func defaultNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "notification-system"
}
