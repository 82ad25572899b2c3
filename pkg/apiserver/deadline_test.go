package apiserver

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// unreachableStorage stands for etcd not answering: every call waits for
// its context to end, then fails with err, or with the context's error.
type unreachableStorage struct {
	storage.Interface
	err   error
	calls chan context.Context // the context of each call
}

func newUnreachableStorage(err error) *unreachableStorage {
	return &unreachableStorage{err: err, calls: make(chan context.Context, 1)}
}

func (s *unreachableStorage) wait(ctx context.Context) error {
	s.calls <- ctx
	<-ctx.Done()
	if s.err != nil {
		return s.err
	}
	return ctx.Err()
}

func (s *unreachableStorage) Get(ctx context.Context, _ string, _ storage.GetOptions, _ runtime.Object) error {
	return s.wait(ctx)
}

func (s *unreachableStorage) Create(ctx context.Context, _ string, _, _ runtime.Object, _ uint64) error {
	return s.wait(ctx)
}

func TestAStorageCallEndsBeforeItsRequestWithA504(t *testing.T) {
	for _, tc := range []struct {
		timeout, margin time.Duration
	}{
		{60 * time.Second, time.Second},           // the default request timeout
		{5 * time.Second, 500 * time.Millisecond}, // a tenth of the time left
		{300 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(tc.timeout.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			requestDeadline, _ := ctx.Deadline()
			etcd := newUnreachableStorage(nil)
			s := earlyDeadlineStorage{etcd}
			if tc.timeout > time.Second {
				// Not to wait for it: the deadline given to the storage is what counts.
				go func() { _ = s.Get(ctx, "/key", storage.GetOptions{}, &v1beta2.Event{}) }()
			} else if err := s.Get(ctx, "/key", storage.GetOptions{}, &v1beta2.Event{}); !apierrors.IsTimeout(err) {
				t.Errorf("error %v, want a 504 Timeout", err)
			}
			storageDeadline, ok := (<-etcd.calls).Deadline()
			if !ok {
				t.Fatal("the storage call has no deadline")
			}
			if margin := requestDeadline.Sub(storageDeadline); margin > tc.margin || margin < tc.margin-50*time.Millisecond {
				t.Errorf("the storage call ends %s before the request, want %s", margin, tc.margin)
			}
		})
	}
}

func TestTheStoragesOwnVerdictStandsWhenItComesLate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	etcd := newUnreachableStorage(storage.NewKeyExistsError("/key", 1))
	if err := (earlyDeadlineStorage{etcd}).Create(ctx, "/key", &v1beta2.Event{}, &v1beta2.Event{}, 0); !storage.IsExist(err) {
		t.Errorf("error %v, want the storage's AlreadyExists", err)
	}
}

func TestACallWithoutADeadlineIsLeftAlone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	failure := errors.New("etcd: connection refused")
	etcd := newUnreachableStorage(failure)
	cancel()
	if err := (earlyDeadlineStorage{etcd}).Get(ctx, "/key", storage.GetOptions{}, &v1beta2.Event{}); err != failure {
		t.Errorf("error %v, want the storage's own", err)
	}
	if <-etcd.calls != ctx {
		t.Error("the storage call got another context than its caller's")
	}
}

func TestEveryResourceStorageGetsTheEarlyDeadline(t *testing.T) {
	etcd := newUnreachableStorage(nil)
	getter := earlyDeadlines{generic.RESTOptions{Decorator: func(*storagebackend.ConfigForResource, string,
		func(runtime.Object) (string, error), func() runtime.Object, func() runtime.Object,
		storage.AttrFunc, storage.IndexerFuncs, *cache.Indexers,
	) (storage.Interface, factory.DestroyFunc, error) {
		return etcd, func() {}, nil
	}}}
	opts, err := getter.GetRESTOptions(schema.GroupResource{Group: v1beta2.GroupName, Resource: "events"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := opts.Decorator(nil, "", nil, nil, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wrapped, ok := s.(earlyDeadlineStorage); !ok || wrapped.Interface != etcd {
		t.Errorf("the decorated storage is %T, want the etcd storage with early deadlines", s)
	}
}
