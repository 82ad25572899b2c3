package event_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3rpc"
	"go.etcd.io/etcd/server/v3/proxy/grpcproxy/adapter"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/versioning"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/apiserver"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/event"
)

// startEtcd runs a real etcd in this process, its data in a temp dir.
func startEtcd(tb testing.TB) *embed.Etcd {
	tb.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = tb.TempDir()
	cfg.LogLevel = "error"
	local := url.URL{Scheme: "http", Host: freeAddress(tb)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{local}, []url.URL{local}
	peer := url.URL{Scheme: "http", Host: freeAddress(tb)}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		tb.Fatal("etcd did not start")
	}
	tb.Cleanup(e.Close)
	return e
}

func freeAddress(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// restOptions configure the storage as the server does: v1beta2 protobuf
// under /registry/notification.toolkit.fluxcd.io.
type restOptions struct{}

func (restOptions) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	info, _ := runtime.SerializerInfoForMediaType(apiserver.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	codec := versioning.NewDefaultingCodecForScheme(apiserver.Scheme, info.Serializer, apiserver.Codecs.UniversalDeserializer(),
		schema.GroupVersions{v1beta2.SchemeGroupVersion}, runtime.InternalGroupVersioner)
	cfg := storagebackend.NewDefaultConfig("/registry/notification.toolkit.fluxcd.io", codec)
	return generic.RESTOptions{StorageConfig: cfg.ForResource(resource), ResourcePrefix: resource.Resource}, nil
}

func keyFunc(ctx context.Context, name string) (string, error) {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	return "/events/" + ns + "/" + name, nil
}

// newWriter returns a Writer on a new etcd, through an in-process client
// as the server's embedded etcd has, or one over gRPC, as with
// --etcd-servers; and the client.
func newWriter(tb testing.TB, overGRPC bool) (*event.Writer, *clientv3.Client) {
	e := startEtcd(tb)
	var c *clientv3.Client
	var kv pb.KVClient
	if overGRPC {
		var err error
		c, err = clientv3.New(clientv3.Config{Endpoints: []string{e.Clients[0].Addr().String()}, DialTimeout: 10 * time.Second})
		if err != nil {
			tb.Fatal(err)
		}
	} else {
		c = v3client.New(e.Server)
		if _, err := event.NewWriter(c, nil, restOptions{}, keyFunc); err == nil {
			tb.Error("a Writer on an in-process client without its KV API")
		}
		kv = adapter.KvServerToKvClient(v3rpc.NewQuotaKVServer(e.Server))
	}
	// Stopped before etcd (cleanups run last first).
	tb.Cleanup(func() { _ = c.Close() })
	w, err := event.NewWriter(c, kv, restOptions{}, keyFunc)
	if err != nil {
		tb.Fatal(err)
	}
	return w, c
}

// clients runs test with a Writer through each kind of etcd client.
func clients(t *testing.T, test func(t *testing.T, w *event.Writer, c *clientv3.Client)) {
	for _, overGRPC := range []bool{false, true} {
		name := "in-process"
		if overGRPC {
			name = "over gRPC"
		}
		t.Run(name, func(t *testing.T) {
			w, c := newWriter(t, overGRPC)
			test(t, w, c)
		})
	}
}

func anEvent(ns, name string) *notification.Event {
	return &notification.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.Now(), Generation: 1},
		InvolvedObject: notification.ObjectReference{
			Kind: "HelmRelease", Namespace: ns, Name: "podinfo", APIVersion: "helm.toolkit.fluxcd.io/v2",
		},
		Severity: "info", Timestamp: metav1.Now(), Message: "message " + name, Reason: "UpgradeSucceeded",
		ReportingController: "helm-controller",
	}
}

func TestWriterCreatesEachNameOnceAcrossTransactions(t *testing.T) {
	clients(t, testWriterCreatesEachNameOnceAcrossTransactions)
}

func testWriterCreatesEachNameOnceAcrossTransactions(t *testing.T, w *event.Writer, c *clientv3.Client) {
	ctx := t.Context()
	if conflicts, err := w.Create(ctx, "ns", items(anEvent("ns", "before")), 3600, nil); err != nil || conflicts[0] != "" {
		t.Fatalf("the first create: %v %v", conflicts, err)
	}
	// More than one transaction's worth, with a repeat inside and a name
	// stored before.
	var events []*notification.Event
	for i := range event.MaxTxnItems + 20 {
		events = append(events, anEvent("ns", fmt.Sprint("e", i)))
	}
	events = append(events, anEvent("ns", "e3"), anEvent("ns", "before"))
	conflicts, err := w.Create(ctx, "ns", items(events...), 3600, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, conflict := range conflicts {
		ok := conflict == ""
		want := i < event.MaxTxnItems+20
		if ok != want || (!ok && conflict != events[i].Name) {
			t.Errorf("item %d (%s): conflict %q, want created %v", i, events[i].Name, conflict, want)
		}
		if ok && events[i].ResourceVersion == "" {
			t.Errorf("item %d has no resourceVersion", i)
		}
	}
	got, err := w.Get(ctx, "ns", []string{"e0", "e119", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || got[0].Message != "message e0" || got[1] == nil || got[2] != nil {
		t.Fatalf("read back %v", got)
	}
	// Stored where and as the registry's etcd3 storage stores it: under
	// the prefix, with a lease of the TTL, readable by its codec.
	resp, err := c.Get(ctx, "/registry/notification.toolkit.fluxcd.io/events/ns/e0")
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("etcd key: %v %v", resp, err)
	}
	ttl, err := c.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil || ttl.TTL < 3500 || ttl.TTL > 3600+60 {
		t.Errorf("lease TTL %d (%v), want the 3600 s asked for", ttl.TTL, err)
	}
	if got[0].ResourceVersion != strconv.FormatInt(resp.Kvs[0].ModRevision, 10) {
		t.Errorf("resourceVersion %s, etcd's mod revision %d", got[0].ResourceVersion, resp.Kvs[0].ModRevision)
	}
}

func items(events ...*notification.Event) []event.CreateItem {
	out := make([]event.CreateItem, len(events))
	for i, e := range events {
		out[i] = event.CreateItem{Event: e}
	}
	return out
}

// An item named after its dedup key is not created when the Event of the
// window before is there and repeats says it is a repeat of it; it is
// when that one is older, or absent.
func TestWriterChecksTheWindowBeforeInTheSameTransaction(t *testing.T) {
	w, _ := newWriter(t, false)
	ctx := t.Context()
	if _, err := w.Create(ctx, "ns", items(anEvent("ns", "k-1"), anEvent("ns", "old-1"), anEvent("ns", "k-2")), 3600, nil); err != nil {
		t.Fatal(err)
	}
	var asked []string
	repeats := func(earlier *notification.Event) bool {
		asked = append(asked, earlier.Name)
		return earlier.Name == "k-1" // old-1 is older than the window
	}
	conflicts, err := w.Create(ctx, "ns", []event.CreateItem{
		{Event: anEvent("ns", "k-2"), Previous: "k-1"},     // there already: its own name
		{Event: anEvent("ns", "new-2"), Previous: "k-1"},   // a repeat of k-1
		{Event: anEvent("ns", "old-2"), Previous: "old-1"}, // old-1 is too old: created
		{Event: anEvent("ns", "first-2"), Previous: "none-1"},
	}, 3600, repeats)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"k-2", "k-1", "", ""}; fmt.Sprint(conflicts) != fmt.Sprint(want) {
		t.Errorf("conflicts %q, want %q", conflicts, want)
	}
	got, err := w.Get(ctx, "ns", []string{"new-2", "old-2", "first-2"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != nil || got[1] == nil || got[2] == nil {
		t.Errorf("stored new-2 %v, old-2 %v, first-2 %v; want only the last two", got[0] != nil, got[1] != nil, got[2] != nil)
	}
	if fmt.Sprint(asked) != "[k-1 old-1]" {
		t.Errorf("repeats was asked about %v", asked)
	}
}

func TestWriterUpdatesStatusOnlyOverTheVersionRead(t *testing.T) {
	clients(t, testWriterUpdatesStatusOnlyOverTheVersionRead)
}

func testWriterUpdatesStatusOnlyOverTheVersionRead(t *testing.T, w *event.Writer, c *clientv3.Client) {
	ctx := t.Context()
	a, b := anEvent("ns", "a"), anEvent("ns", "b")
	if _, err := w.Create(ctx, "ns", items(a, b), 3600, nil); err != nil {
		t.Fatal(err)
	}
	before, err := c.Get(ctx, "/registry/notification.toolkit.fluxcd.io/events/ns/a")
	if err != nil {
		t.Fatal(err)
	}
	// b changes meanwhile (as a user's label would).
	bNow := b.DeepCopy()
	bNow.Labels = map[string]string{"touched": "yes"}
	if written, err := w.UpdateStatus(ctx, []*notification.Event{bNow}); err != nil || !written[0] {
		t.Fatalf("relabel: %v %v", written, err)
	}
	now := metav1.Now()
	a.Status.RoutedAt, b.Status.RoutedAt = &now, &now
	written, err := w.UpdateStatus(ctx, []*notification.Event{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if !written[0] || written[1] {
		t.Errorf("written %v, want a written and b (changed since read) left for the registry", written)
	}
	got, err := w.Get(ctx, "ns", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status.RoutedAt == nil || got[1].Status.RoutedAt != nil || got[1].Labels["touched"] != "yes" {
		t.Errorf("stored a: %+v; b: %+v", got[0].Status, got[1])
	}
	after, err := c.Get(ctx, "/registry/notification.toolkit.fluxcd.io/events/ns/a")
	if err != nil {
		t.Fatal(err)
	}
	if after.Kvs[0].Lease != before.Kvs[0].Lease {
		t.Errorf("the status write changed the lease %d to %d: the Event's expiry moved", before.Kvs[0].Lease, after.Kvs[0].Lease)
	}
	// A later record, over the version the first one wrote, keeps it too.
	a.Status.Message = "again"
	if written, err := w.UpdateStatus(ctx, []*notification.Event{a}); err != nil || !written[0] {
		t.Fatalf("the second record of a: %v %v", written, err)
	}
	if again, err := c.Get(ctx, "/registry/notification.toolkit.fluxcd.io/events/ns/a"); err != nil || again.Kvs[0].Lease != before.Kvs[0].Lease {
		t.Errorf("the second record of a: lease %d, want %d (%v)", again.Kvs[0].Lease, before.Kvs[0].Lease, err)
	}
}

// The first record of an Event names the lease its create gave, but only
// over the version that create wrote: an Event deleted and created again
// elsewhere, under another lease, keeps that one.
func TestWriterKeepsTheLeaseOfAnEventCreatedElsewhere(t *testing.T) {
	clients(t, testWriterKeepsTheLeaseOfAnEventCreatedElsewhere)
}

func testWriterKeepsTheLeaseOfAnEventCreatedElsewhere(t *testing.T, w *event.Writer, c *clientv3.Client) {
	ctx := t.Context()
	const key = "/registry/notification.toolkit.fluxcd.io/events/ns/a"
	a := anEvent("ns", "a")
	if _, err := w.Create(ctx, "ns", items(a), 3600, nil); err != nil {
		t.Fatal(err)
	}
	created, err := c.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Grant(ctx, 7200)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	put, err := c.Put(ctx, key, string(created.Kvs[0].Value), clientv3.WithLease(other.ID))
	if err != nil {
		t.Fatal(err)
	}
	again := a.DeepCopy()
	again.ResourceVersion = strconv.FormatInt(put.Header.Revision, 10)
	now := metav1.Now()
	again.Status.RoutedAt = &now
	if written, err := w.UpdateStatus(ctx, []*notification.Event{again}); err != nil || !written[0] {
		t.Fatalf("recording the Event created again: %v %v", written, err)
	}
	after, err := c.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := clientv3.LeaseID(after.Kvs[0].Lease); got != other.ID {
		t.Errorf("the record gave the Event lease %x, want %x, the lease it was created again under (its create here had %x)", got, other.ID, created.Kvs[0].Lease)
	}
}

// BenchmarkWriterCreate: the cost of storing an Event alone and in
// transactions of 10 and 100, per Event (real etcd, fsync included).
func BenchmarkWriterCreate(b *testing.B) {
	w, _ := newWriter(b, false)
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			n := 0
			for b.Loop() {
				events := make([]*notification.Event, size)
				for i := range events {
					events[i] = anEvent("bench", fmt.Sprint(size, "-", n))
					n++
				}
				if _, err := w.Create(b.Context(), "bench", items(events...), 3600, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
		})
	}
}

// Errors come back as clientv3 gives them: etcd's typed, a cancelled
// request's as its context's.
func TestWriterErrorsAreClientv3s(t *testing.T) {
	clients(t, func(t *testing.T, w *event.Writer, _ *clientv3.Client) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := w.Create(ctx, "ns", items(anEvent("ns", "late")), 0, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("a create with its context cancelled: %v, want context.Canceled", err)
		}
		// etcd refuses a request over 1.5 MiB (--max-request-bytes).
		a := anEvent("ns", "a")
		a.ResourceVersion = "1"
		a.Status.Message = strings.Repeat("x", 1600<<10)
		if _, err := w.UpdateStatus(t.Context(), []*notification.Event{a}); !errors.Is(err, rpctypes.ErrRequestTooLarge) {
			t.Errorf("a status of 1.6 MiB: %v, want etcd's %v", err, rpctypes.ErrRequestTooLarge)
		}
	})
}
