// Package apiserver assembles notification-apiserver: the scheme, the
// storage of every resource, and the generic API server that serves them.
package apiserver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/install"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
	"github.com/notification-apiserver/notification-apiserver/pkg/reconcile"
	alertstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/alert"
	eventstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/event"
	providerstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/provider"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/reconciled"
)

var (
	// Scheme holds every type the server serves.
	Scheme = runtime.NewScheme()
	// Codecs encodes and decodes the types of Scheme.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	install.Install(Scheme)
	// The generic server decodes options (ListOptions, ...) as meta/v1 in
	// the empty group, and serves unversioned discovery types.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	Scheme.AddUnversionedTypes(schema.GroupVersion{Group: "", Version: "v1"},
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}

// Config is the configuration of notification-apiserver.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

// ExtraConfig holds what the server needs beyond the generic API server.
type ExtraConfig struct {
	// EtcdClient reaches the etcd of the storage, to write Events in
	// batches (eventbatches). Without it eventbatches is not served.
	EtcdClient *clientv3.Client
	// EtcdKV is the KV API EtcdClient calls, for a client without a gRPC
	// connection (the embedded etcd's in-process client).
	EtcdKV etcdserverpb.KVClient
	// NotificationInformers watch this server's own resources through its
	// loopback client; they are started after the server starts.
	NotificationInformers informers.SharedInformerFactory
	// LocalInformers, when set, feed NotificationInformers' Providers and
	// Alerts from this server's storage (see NewLocalInformers).
	LocalInformers *LocalInformers
	// KubeClient and KubeInformers reach the Kubernetes API: Secrets for
	// the reconciler, and Events. Without them status is not reconciled.
	KubeClient    kubernetes.Interface
	KubeInformers kubeinformers.SharedInformerFactory
	// LeaderElection picks the replica that runs the reconciler.
	LeaderElection LeaderElection
	// Events are the retention and dedup window of Events.
	Events eventstorage.Options
	// Delivery tunes the delivery loop.
	Delivery delivery.Options
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config that Complete filled in. It can only be made
// by Complete, so New never runs on an incomplete configuration.
type CompletedConfig struct {
	*completedConfig
}

// Server is a running notification-apiserver.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in the fields that are not set.
func (c *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{GenericConfig: c.GenericConfig.Complete(), ExtraConfig: &c.ExtraConfig}}
}

// New builds the server: the generic API server with the notification API
// group installed on its storage.
func (c completedConfig) New() (*Server, error) {
	// EventBatch creates of the receiver take a shorter handler chain
	// (batchpath.go), once eventbatches is served.
	var batches *batchPath
	if c.ExtraConfig.EtcdClient != nil && c.GenericConfig.BuildHandlerChainFunc != nil {
		batches = &batchPath{admit: c.GenericConfig.AdmissionControl, maxBody: c.GenericConfig.MaxRequestBodyBytes}
		c.GenericConfig.BuildHandlerChainFunc = withBatchPath(batches, c.GenericConfig.BuildHandlerChainFunc)
	}
	generic, err := c.GenericConfig.New("notification-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	s := &Server{GenericAPIServer: generic}

	// Storage calls end before their request does: a client gets a 504,
	// not a reset stream, when etcd does not answer (see deadline.go).
	optsGetter := earlyDeadlines{c.GenericConfig.RESTOptionsGetter}
	providers, providerStatus, err := providerstorage.NewREST(Scheme, optsGetter, c.providerCheck())
	if err != nil {
		return nil, err
	}
	alerts, alertStatus, err := alertstorage.NewREST(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}
	c.ExtraConfig.LocalInformers.bind(providers, alerts)
	backlog := &backlog{}
	eventOptions := c.ExtraConfig.Events
	eventOptions.Pending = backlog.pending
	eventOptions.NoAlertCanMatch = backlog.noAlertCanMatch
	eventOptions.RoutedAtCreate = delivery.RoutedAtCreate
	events, eventStatus, err := eventstorage.NewREST(Scheme, optsGetter, eventOptions)
	if err != nil {
		return nil, err
	}
	group := genericapiserver.NewDefaultAPIGroupInfo(notification.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	resources := map[string]rest.Storage{
		"providers":        providers,
		"providers/status": providerStatus,
		"alerts":           alerts,
		"alerts/status":    alertStatus,
		"events":           events,
		"events/status":    eventStatus,
	}
	var eventWriter *eventstorage.Writer
	if c.ExtraConfig.EtcdClient != nil {
		eventWriter, err = eventstorage.NewWriter(c.ExtraConfig.EtcdClient, c.ExtraConfig.EtcdKV, c.GenericConfig.RESTOptionsGetter, events.Store.KeyFunc)
		if err != nil {
			return nil, err
		}
		batchStorage := eventstorage.NewBatchREST(events, eventWriter, c.GenericConfig.Authorization.Authorizer)
		// Each item is admitted as a create of it alone would be.
		batchStorage.UseAdmission(c.GenericConfig.AdmissionControl, objectInterfaces)
		resources["eventbatches"] = batchStorage
		events.UseWriter(eventWriter)
	}
	group.VersionedResourcesStorageMap[v1beta2.SchemeGroupVersion.Version] = resources
	if err := s.GenericAPIServer.InstallAPIGroup(&group); err != nil {
		return nil, fmt.Errorf("installing the %s API group: %w", notification.GroupName, err)
	}
	if b, ok := resources["eventbatches"].(rest.Creater); ok {
		batches.bind(b)
	}
	writers := statusWriters{providers: providerStatus, alerts: alertStatus, events: eventStatus}
	if eventWriter != nil {
		writers.eventBatches = newEventStatusBatches(eventWriter, c.ExtraConfig.Delivery.Workers, writers.eventAlone)
	}
	if err := c.addReconciler(s.GenericAPIServer, writers, events, backlog); err != nil {
		return nil, err
	}
	if f := c.ExtraConfig.NotificationInformers; f != nil {
		s.GenericAPIServer.AddPostStartHookOrDie("start-notification-informers", func(ctx genericapiserver.PostStartHookContext) error {
			f.Start(ctx.Done())
			return nil
		})
	}
	return s, nil
}

// providerCheck lets the storage write a new generation of a Provider
// Ready at once when the reconciler's check finds it so: with the Secret
// informer synced, the status the reconciler would write then is known at
// the write, and the reconciler, finding it, writes nothing. A Provider
// not ready is marked Reconciling as before, for the reconciler to check
// and report (with a Kubernetes Event).
func (c completedConfig) providerCheck() reconciled.Options[*notification.Provider] {
	f := c.ExtraConfig.KubeInformers
	if f == nil || c.ExtraConfig.KubeClient == nil || c.ExtraConfig.NotificationInformers == nil {
		return reconciled.Options[*notification.Provider]{} // no reconciler
	}
	secrets := f.Core().V1().Secrets()
	informer, lister := secrets.Informer(), secrets.Lister()
	getSecret := func(namespace, name string) (*corev1.Secret, error) {
		return lister.Secrets(namespace).Get(name)
	}
	return reconciled.Options[*notification.Provider]{Check: func(p *notification.Provider) bool {
		if !informer.HasSynced() {
			return false
		}
		external := &v1beta2.Provider{}
		if err := Scheme.Convert(p, external, nil); err != nil {
			return false
		}
		status, ok := reconcile.ReadyStatus(external, getSecret)
		if !ok {
			return false
		}
		return v1beta2.Convert_v1beta2_ProviderStatus_To_notification_ProviderStatus(status, &p.Status, nil) == nil
	}}
}

// addReconciler runs the status reconciler and the delivery loop once the
// server serves, in the leader replica.
func (c completedConfig) addReconciler(s *genericapiserver.GenericAPIServer, writers statusWriters, events *eventstorage.REST, backlog *backlog) error {
	x := c.ExtraConfig
	if x.KubeClient == nil || x.KubeInformers == nil || x.NotificationInformers == nil {
		klog.Warning("No Kubernetes API configured: Provider and Alert status will not be reconciled")
		return nil
	}
	// Status goes through the statusWriters (in-process); the client
	// remains for what the reconciler reads and the pending Events watch,
	// in protobuf.
	loopback := restclient.CopyConfig(c.GenericConfig.LoopbackClientConfig)
	loopback.ContentType = "application/vnd.kubernetes.protobuf"
	// Compressing a watch to this very process costs CPU for nothing
	// (gzip was 5% of the server's CPU under a burst of events).
	loopback.DisableCompression = true
	client, err := versioned.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("creating the reconciler's client: %w", err)
	}
	controller, err := reconcile.New(client, x.KubeClient, x.NotificationInformers, x.KubeInformers, Scheme)
	if err != nil {
		return fmt.Errorf("creating the reconciler: %w", err)
	}
	controller.SetStatusWriters(reconcile.StatusWriters{Provider: writers.provider, Alert: writers.alert})
	deliveryOptions := x.Delivery
	deliveryOptions.WriteStatus = writers.event
	deliveryOptions.Events = eventsInProcess(events)
	dispatcher, err := delivery.New(client, x.NotificationInformers, x.KubeInformers, deliveryOptions)
	if err != nil {
		return fmt.Errorf("creating the delivery loop: %w", err)
	}
	backlog.count.Store(dispatcher)
	return s.AddPostStartHook("notification-reconciler", func(ctx genericapiserver.PostStartHookContext) error {
		// Every replica counts the pending Events, for --max-pending-events.
		if err := dispatcher.Start(ctx); err != nil {
			return err
		}
		go func() {
			err := runAsLeader(ctx, x.KubeClient, x.LeaderElection, func(ctx context.Context) {
				var wg sync.WaitGroup
				wg.Add(2)
				go func() {
					defer wg.Done()
					if err := controller.Run(ctx, 2); err != nil {
						klog.ErrorS(err, "The reconciler stopped")
					}
				}()
				go func() {
					defer wg.Done()
					if err := dispatcher.Run(ctx); err != nil {
						klog.ErrorS(err, "The delivery loop stopped")
					}
				}()
				wg.Wait()
			})
			if err != nil {
				klog.ErrorS(err, "The reconciler did not start")
			}
		}()
		return nil
	})
}

// backlog tells the Event storage how many Events await delivery, once
// the delivery loop exists.
type backlog struct {
	count atomic.Pointer[delivery.Dispatcher]
}

// noAlertCanMatch tells, once the delivery loop exists, that no Alert can
// take the events of the object.
func (b *backlog) noAlertCanMatch(io notification.ObjectReference) bool {
	d := b.count.Load()
	return d != nil && d.NoAlertCanMatch(io.Namespace, io.Kind)
}

func (b *backlog) pending() int {
	if d := b.count.Load(); d != nil {
		return d.Pending()
	}
	return 0
}
