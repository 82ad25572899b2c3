package event

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/value"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// Writer stores many Events in one etcd transaction, where the generic
// registry takes one round trip, one raft entry and one fsync per object.
// It writes what the registry's etcd3 storage would: the same keys,
// encoding, transformer (encryption at rest) and leases, so that reads,
// watches and the registry's own updates see no difference.
type Writer struct {
	client *clientv3.Client
	// kv sends the transactions that create Events and record their
	// statuses: see txn.
	kv          pb.KVClient
	codec       runtime.Codec
	decoder     runtime.Decoder
	transformer value.Transformer
	versioner   storage.Versioner
	pathPrefix  string
	keyFunc     func(ctx context.Context, name string) (string, error)
	// keyPrefix, when known, is what the keys of keyFunc (under
	// pathPrefix) have before namespace/name: key then builds them with
	// one allocation where keyFunc takes four, three keys an event.
	keyPrefix string
	newFunc   func() runtime.Object
	leases    leases
	created   createdLeases
	// wrote, when set, is told each Event and the bytes it was encoded to
	// (before the transformer), so that the watches need not decode them:
	// see watchDecodes.
	wrote func(data []byte, e *notification.Event)
}

// MaxTxnItems bounds the items of one transaction: etcd refuses more than
// 128 operations in a transaction by default (--max-txn-ops).
const MaxTxnItems = 100

// maxTxnBytes bounds the values of one transaction: etcd refuses requests
// over 1.5 MiB by default (--max-request-bytes).
const maxTxnBytes = 1 << 20

// NewWriter returns a Writer for the storage of resource that optsGetter
// configures, through client. kv is the etcd KV API that client calls: nil
// for a client with a gRPC connection, which has one; an in-process client
// (v3client) has none, and is given its server's.
func NewWriter(client *clientv3.Client, kv pb.KVClient, optsGetter generic.RESTOptionsGetter, keyFunc func(ctx context.Context, name string) (string, error)) (*Writer, error) {
	if kv == nil {
		conn := client.ActiveConnection()
		if conn == nil {
			return nil, errors.New("the etcd client has no connection: give the Writer its server's KV API")
		}
		kv = pb.NewKVClient(conn)
	}
	opts, err := optsGetter.GetRESTOptions(notification.Resource("events"), &notification.Event{})
	if err != nil {
		return nil, fmt.Errorf("reading the storage options of events: %w", err)
	}
	cfg := opts.StorageConfig
	if cfg.Codec == nil {
		return nil, errors.New("the storage of events has no codec")
	}
	transformer := cfg.Transformer
	if transformer == nil {
		transformer = identity.NewEncryptCheckTransformer()
	}
	prefix := path.Join("/", cfg.Prefix)
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	w := &Writer{
		client:      client,
		kv:          kv,
		codec:       cfg.Codec,
		decoder:     cfg.Codec,
		transformer: transformer,
		versioner:   storage.APIObjectVersioner{},
		pathPrefix:  prefix,
		keyFunc:     keyFunc,
		newFunc:     func() runtime.Object { return &notification.Event{} },
	}
	w.keyPrefix = keyPrefixOf(w.keyByFunc)
	return w, nil
}

// keyPrefixOf is what the keys of keyOf have before namespace/name, found
// from one key; "" when they are not so made.
func keyPrefixOf(keyOf func(namespace, name string) (string, error)) string {
	const namespace, name = "namespace-of-key", "name-of-key"
	k, err := keyOf(namespace, name)
	if err != nil {
		return ""
	}
	prefix, ok := strings.CutSuffix(k, namespace+"/"+name)
	if !ok || !strings.HasSuffix(prefix, "/") {
		return ""
	}
	return prefix
}

// key is the etcd key of the Event name in namespace, as the etcd3
// storage prepares it.
func (w *Writer) key(namespace, name string) (string, error) {
	if w.keyPrefix != "" && namespace != "" && !strings.Contains(namespace, "/") && name != "" && len(content.IsPathSegmentName(name)) == 0 {
		return w.keyPrefix + namespace + "/" + name, nil
	}
	return w.keyByFunc(namespace, name)
}

// keyByFunc is the key keyFunc gives, under pathPrefix.
func (w *Writer) keyByFunc(namespace, name string) (string, error) {
	ctx := genericapirequest.WithNamespace(context.Background(), namespace)
	k, err := w.keyFunc(ctx, name)
	if err != nil {
		return "", err
	}
	return w.pathPrefix + strings.TrimPrefix(k, "/"), nil
}

// encode turns an Event into what etcd holds at key.
func (w *Writer) encode(ctx context.Context, key string, e *notification.Event) ([]byte, error) {
	if err := w.versioner.PrepareObjectForStorage(e); err != nil {
		return nil, err
	}
	data, err := runtime.Encode(w.codec, e)
	if err != nil {
		return nil, err
	}
	if w.wrote != nil {
		w.wrote(data, e)
	}
	out, err := w.transformer.TransformToStorage(ctx, data, authenticatedData(key))
	if err != nil {
		return nil, storage.NewInternalError(err)
	}
	return out, nil
}

// Get reads the Events with names in namespace in one transaction; a name
// not found has nil.
func (w *Writer) Get(ctx context.Context, namespace string, names []string) ([]*notification.Event, error) {
	out := make([]*notification.Event, len(names))
	for start := 0; start < len(names); start += MaxTxnItems {
		end := min(start+MaxTxnItems, len(names))
		keys := make([]string, 0, end-start)
		ops := make([]clientv3.Op, 0, end-start)
		for _, name := range names[start:end] {
			key, err := w.key(namespace, name)
			if err != nil {
				return nil, err
			}
			keys = append(keys, key)
			ops = append(ops, clientv3.OpGet(key))
		}
		resp, err := w.client.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, err
		}
		for i, r := range resp.Responses {
			e, err := w.decode(ctx, keys[i], r.GetResponseRange().GetKvs())
			if err != nil {
				return nil, err
			}
			out[start+i] = e
		}
	}
	return out, nil
}

// CreateItem is an Event to create, prepared for create (named,
// validated), and, when it is named after its dedup key, the name the
// same event had in the dedup window before.
type CreateItem struct {
	Event    *notification.Event
	Previous string
}

// Create stores the items' Events, all in namespace, each only if no Event
// has its name nor, for an item with Previous, an Event named Previous
// that repeats reports as a repeat of it (one created within the dedup
// window): the check is in the same transaction as the write. It returns,
// per item, "" when created (the Event then carries its resourceVersion),
// else the name of the Event it repeats. The Events live for ttl seconds.
// Transactions hold up to MaxTxnItems items and about 1 MiB.
func (w *Writer) Create(ctx context.Context, namespace string, items []CreateItem, ttl int64, repeats func(earlier *notification.Event) bool) ([]string, error) {
	conflicts := make([]string, len(items))
	lease, err := w.leases.get(ctx, w.client, ttl)
	if err != nil {
		return conflicts, err
	}
	type put struct {
		index         int
		key, previous string
		value         []byte
	}
	var batch, again []put
	size := 0
	commit := func() error {
		if len(batch) == 0 {
			return nil
		}
		o := newTxnOps(len(batch), 2)
		ops := make([]*pb.RequestOp, len(batch))
		for i, p := range batch {
			key := []byte(p.key)
			if p.previous == "" {
				ops[i] = o.nested(o.compares(o.created(key)), o.list(o.put(key, p.value, int64(lease), false)), nil)
				continue
			}
			previous := []byte(p.previous)
			ops[i] = o.nested(o.compares(o.created(key), o.created(previous)),
				o.list(o.put(key, p.value, int64(lease), false)),
				o.list(o.get(key, true), o.get(previous, false)))
		}
		batchItems.WithLabelValues("create").Observe(float64(len(ops)))
		start := time.Now()
		resp, err := w.txn(ctx, ops)
		writeDuration.WithLabelValues("create").Observe(time.Since(start).Seconds())
		if err != nil {
			return err
		}
		for i, r := range resp.Responses {
			p, txn := batch[i], r.GetResponseTxn()
			e := items[p.index].Event
			switch {
			case txn.GetSucceeded():
				if err := w.versioner.UpdateObject(e, uint64(resp.Header.Revision)); err != nil {
					return err
				}
				w.created.put(p.key, resp.Header.Revision, int64(lease))
			case p.previous == "" || txn.GetResponses()[0].GetResponseRange().GetCount() > 0:
				conflicts[p.index] = e.Name
			default:
				earlier, err := w.decode(ctx, p.previous, txn.GetResponses()[1].GetResponseRange().GetKvs())
				if err != nil {
					return err
				}
				if earlier != nil && repeats(earlier) {
					conflicts[p.index] = items[p.index].Previous
					continue
				}
				// The earlier one is older than the window: create
				// without looking at it.
				p.previous = ""
				again = append(again, p)
			}
		}
		batch, size = batch[:0], 0
		return nil
	}
	seen := make(map[string]bool, len(items))
	for i, item := range items {
		e := item.Event
		key, err := w.key(namespace, e.Name)
		if err != nil {
			return conflicts, err
		}
		if seen[key] {
			conflicts[i] = e.Name // etcd refuses a key twice in one transaction
			continue
		}
		seen[key] = true
		p := put{index: i, key: key}
		if item.Previous != "" {
			if p.previous, err = w.key(namespace, item.Previous); err != nil {
				return conflicts, err
			}
		}
		if p.value, err = w.encode(ctx, key, e); err != nil {
			return conflicts, err
		}
		if len(batch) == MaxTxnItems || (len(batch) > 0 && size+len(p.value) > maxTxnBytes) {
			if err := commit(); err != nil {
				return conflicts, err
			}
		}
		batch = append(batch, p)
		size += len(p.value)
	}
	if err := commit(); err != nil {
		return conflicts, err
	}
	// Rare: repeats of Events from the window before that are older than
	// the window.
	for _, p := range again {
		if len(batch) == MaxTxnItems {
			if err := commit(); err != nil {
				return conflicts, err
			}
		}
		batch = append(batch, p)
	}
	return conflicts, commit()
}

// decode reads the Event of a range answer for key (nil when empty).
func (w *Writer) decode(ctx context.Context, key string, kvs []*mvccpb.KeyValue) (*notification.Event, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	data, _, err := w.transformer.TransformFromStorage(ctx, kvs[0].Value, authenticatedData(key))
	if err != nil {
		return nil, storage.NewInternalError(err)
	}
	obj, _, err := w.decoder.Decode(data, nil, w.newFunc())
	if err != nil {
		return nil, err
	}
	e, ok := obj.(*notification.Event)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, not an Event", key, obj)
	}
	if err := w.versioner.UpdateObject(e, uint64(kvs[0].ModRevision)); err != nil {
		return nil, err
	}
	return e, nil
}

// UpdateStatus writes each Event over the version it was read at, keeping
// its lease (its expiry), in transactions of up to MaxTxnItems. written[i]
// tells which were; one that changed or went meanwhile is not, for the
// caller to write through the registry. Written Events carry their new
// resourceVersion.
func (w *Writer) UpdateStatus(ctx context.Context, events []*notification.Event) (written []bool, err error) {
	written = make([]bool, len(events))
	type put struct {
		index int
		key   string
		rev   int64
		value []byte
		// lease is the key's lease when known: see createdLeases.
		lease      int64
		leaseKnown bool
	}
	var batch []put
	size := 0
	commit := func() error {
		if len(batch) == 0 {
			return nil
		}
		o := newTxnOps(len(batch), 0)
		ops := make([]*pb.RequestOp, len(batch))
		for i, p := range batch {
			key := []byte(p.key)
			ops[i] = o.nested(o.compares(o.modified(key, p.rev)), o.list(o.put(key, p.value, p.lease, !p.leaseKnown)), nil)
		}
		batchItems.WithLabelValues("status").Observe(float64(len(ops)))
		start := time.Now()
		resp, err := w.txn(ctx, ops)
		writeDuration.WithLabelValues("status").Observe(time.Since(start).Seconds())
		if err != nil {
			return err
		}
		for i, r := range resp.Responses {
			if r.GetResponseTxn().GetSucceeded() {
				written[batch[i].index] = true
				if err := w.versioner.UpdateObject(events[batch[i].index], uint64(resp.Header.Revision)); err != nil {
					return err
				}
			}
		}
		batch, size = batch[:0], 0
		return nil
	}
	seen := make(map[string]bool, len(events))
	for i, e := range events {
		rev, err := w.versioner.ObjectResourceVersion(e)
		if err != nil || rev == 0 {
			continue
		}
		key, err := w.key(e.Namespace, e.Name)
		if err != nil {
			return written, err
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		value, err := w.encode(ctx, key, e)
		// encode clears the resourceVersion: give it back for the caller.
		_ = w.versioner.UpdateObject(e, rev)
		if err != nil {
			return written, err
		}
		if len(batch) == MaxTxnItems || (len(batch) > 0 && size+len(value) > maxTxnBytes) {
			if err := commit(); err != nil {
				return written, err
			}
		}
		lease, known := w.created.take(key, int64(rev))
		batch = append(batch, put{index: i, key: key, rev: int64(rev), value: value, lease: lease, leaseKnown: known})
		size += len(value)
	}
	return written, commit()
}

// txn sends one transaction of ops, as clientv3's KV would. clientv3 copies
// each comparison of a nested transaction three times by reflection
// (proto.Clone), and each value twice: 3% of the server's CPU in a burst
// of events.
func (w *Writer) txn(ctx context.Context, ops []*pb.RequestOp) (*pb.TxnResponse, error) {
	resp, err := w.kv.Txn(ctx, &pb.TxnRequest{Success: ops}, grpc.WaitForReady(true))
	if err != nil {
		return nil, etcdError(ctx, err)
	}
	return resp, nil
}

// etcdError is err as clientv3 returns it: etcd's own errors typed, a
// deadline or cancellation of ctx as ctx's error.
func etcdError(ctx context.Context, err error) error {
	err = rpctypes.Error(err)
	if _, ok := err.(rpctypes.EtcdError); ok {
		return err
	}
	if s, ok := status.FromError(err); ok && (s.Code() == codes.DeadlineExceeded || s.Code() == codes.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// txnOps makes the messages of one transaction's operations out of
// slices made for the whole transaction: each item's operation is about
// ten small messages, each an allocation when made alone. Keys are
// shared between the messages of an item, which etcd only reads.
type txnOps struct {
	ops      []pb.RequestOp
	txns     []pb.RequestOp_RequestTxn
	txnReqs  []pb.TxnRequest
	puts     []pb.RequestOp_RequestPut
	putReqs  []pb.PutRequest
	ranges   []pb.RequestOp_RequestRange
	rangeRqs []pb.RangeRequest
	cmps     []pb.Compare
	creates  []pb.Compare_CreateRevision
	mods     []pb.Compare_ModRevision
	cmpPtrs  []*pb.Compare
	opPtrs   []*pb.RequestOp
}

// newTxnOps sizes a txnOps for items of at most two comparisons, one
// put and reads (at most two each).
func newTxnOps(items, reads int) *txnOps {
	return &txnOps{
		ops:      make([]pb.RequestOp, 0, items*(1+1+reads)),
		txns:     make([]pb.RequestOp_RequestTxn, 0, items),
		txnReqs:  make([]pb.TxnRequest, 0, items),
		puts:     make([]pb.RequestOp_RequestPut, 0, items),
		putReqs:  make([]pb.PutRequest, 0, items),
		ranges:   make([]pb.RequestOp_RequestRange, 0, items*reads),
		rangeRqs: make([]pb.RangeRequest, 0, items*reads),
		cmps:     make([]pb.Compare, 0, 2*items),
		creates:  make([]pb.Compare_CreateRevision, 0, 2*items),
		mods:     make([]pb.Compare_ModRevision, 0, items),
		cmpPtrs:  make([]*pb.Compare, 0, 2*items),
		opPtrs:   make([]*pb.RequestOp, 0, items*(1+reads)),
	}
}

// place puts v at the end of *s and returns where. Past the capacity it
// still works (what was placed before stays where it is).
func place[T any](s *[]T, v T) *T {
	*s = append(*s, v)
	return &(*s)[len(*s)-1]
}

// nested is a transaction inside another.
func (o *txnOps) nested(cmps []*pb.Compare, then, otherwise []*pb.RequestOp) *pb.RequestOp {
	t := place(&o.txns, pb.RequestOp_RequestTxn{})
	t.RequestTxn = place(&o.txnReqs, pb.TxnRequest{Compare: cmps, Success: then, Failure: otherwise})
	return place(&o.ops, pb.RequestOp{Request: t})
}

// compares lists comparisons.
func (o *txnOps) compares(cmps ...*pb.Compare) []*pb.Compare { return appended(&o.cmpPtrs, cmps...) }

// list lists operations.
func (o *txnOps) list(ops ...*pb.RequestOp) []*pb.RequestOp { return appended(&o.opPtrs, ops...) }

// appended appends xs to *s and returns them, a slice of their own (an
// append to it does not reach the next).
func appended[T any](s *[]T, xs ...T) []T {
	start := len(*s)
	*s = append(*s, xs...)
	return (*s)[start:len(*s):len(*s)]
}

// created compares key's create revision with 0: key does not exist.
func (o *txnOps) created(key []byte) *pb.Compare {
	u := place(&o.creates, pb.Compare_CreateRevision{})
	return place(&o.cmps, pb.Compare{Key: key, Target: pb.Compare_CREATE, Result: pb.Compare_EQUAL, TargetUnion: u})
}

// modified compares key's last modification's revision with rev.
func (o *txnOps) modified(key []byte, rev int64) *pb.Compare {
	u := place(&o.mods, pb.Compare_ModRevision{ModRevision: rev})
	return place(&o.cmps, pb.Compare{Key: key, Target: pb.Compare_MOD, Result: pb.Compare_EQUAL, TargetUnion: u})
}

// put writes value at key, under lease, or keeping the key's lease.
func (o *txnOps) put(key, value []byte, lease int64, keepLease bool) *pb.RequestOp {
	w := place(&o.puts, pb.RequestOp_RequestPut{})
	w.RequestPut = place(&o.putReqs, pb.PutRequest{Key: key, Value: value, Lease: lease, IgnoreLease: keepLease})
	return place(&o.ops, pb.RequestOp{Request: w})
}

// get reads key, or only counts it.
func (o *txnOps) get(key []byte, countOnly bool) *pb.RequestOp {
	w := place(&o.ranges, pb.RequestOp_RequestRange{})
	w.RequestRange = place(&o.rangeRqs, pb.RangeRequest{Key: key, CountOnly: countOnly})
	return place(&o.ops, pb.RequestOp{Request: w})
}

// createdLeases remembers the lease of each Event a Writer created, with
// the revision of the create, until its first status record. Keeping a
// key's lease (IgnoreLease) makes etcd read the key's value before the
// write, to find the lease; a record over the very version the create
// wrote (its modification revision compared in the same transaction) has
// that create's lease, and names it instead. Later records, and records
// of Events created elsewhere, keep the key's lease. Two generations of
// createdLeasesKept bound it: the Events never recorded (routed by their
// create) are forgotten.
type createdLeases struct {
	mu        sync.Mutex
	cur, prev map[string]createdLease
}

type createdLease struct{ rev, lease int64 }

const createdLeasesKept = 4096

// put remembers that key was created at rev under lease.
func (c *createdLeases) put(key string, rev, lease int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cur) >= createdLeasesKept || c.cur == nil {
		c.prev, c.cur = c.cur, make(map[string]createdLease, createdLeasesKept)
	}
	c.cur[key] = createdLease{rev: rev, lease: lease}
}

// take returns the lease key was created under, if its create is
// remembered and made the version at rev; it forgets the create.
func (c *createdLeases) take(key string, rev int64) (lease int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range []map[string]createdLease{c.cur, c.prev} {
		if l, found := m[key]; found {
			delete(m, key)
			if l.rev != rev {
				return 0, false
			}
			return l.lease, true
		}
	}
	return 0, false
}

// authenticatedData binds a transformed value to its key, as the etcd3
// storage does.
type authenticatedData string

func (d authenticatedData) AuthenticatedData() []byte { return []byte(d) }

// leases hands out etcd leases for a TTL, reusing one for a while as the
// etcd3 storage does: a lease per write would cost a raft entry each.
// An Event lives between ttl and ttl plus the reuse window.
type leases struct {
	mu      sync.Mutex
	id      clientv3.LeaseID
	ttl     int64
	expires time.Time
}

func (l *leases) get(ctx context.Context, client *clientv3.Client, ttl int64) (clientv3.LeaseID, error) {
	if ttl <= 0 {
		return clientv3.NoLease, nil
	}
	window := min(max(ttl/20, 1), 60)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.id != clientv3.NoLease && l.ttl == ttl && !l.expires.Before(now.Add(time.Duration(ttl)*time.Second)) {
		return l.id, nil
	}
	resp, err := client.Grant(ctx, ttl+window)
	if err != nil {
		return clientv3.NoLease, err
	}
	l.id, l.ttl = resp.ID, ttl
	l.expires = now.Add(time.Duration(ttl+window) * time.Second)
	return l.id, nil
}
