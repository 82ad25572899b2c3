package event

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/install"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func newStorage(t *testing.T, clock *clocktesting.FakeClock) *REST {
	r, _, _ := newStorageOnEtcd(t, clock)
	return r
}

// newStorageOnEtcd is the events storage on a real etcd, with the etcd
// client and the REST options, for storages that share it.
func newStorageOnEtcd(t *testing.T, clock *clocktesting.FakeClock) (*REST, *clientv3.Client, generic.RESTOptions) {
	t.Helper()
	server, cfg := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	scheme := runtime.NewScheme()
	install.Install(scheme)
	cfg.Codec = serializer.NewCodecFactory(scheme).LegacyCodec(v1beta2.SchemeGroupVersion)
	opts := generic.RESTOptions{
		StorageConfig:  cfg.ForResource(notification.Resource("events")),
		Decorator:      generic.UndecoratedStorage,
		ResourcePrefix: "events",
	}
	r, _, err := NewREST(scheme, opts, Options{Retention: time.Hour, DedupWindow: 5 * time.Minute, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Destroy)
	return r, server.V3Client.Client, opts
}

func newEvent(message string) *notification.Event {
	return &notification.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps"},
		InvolvedObject: notification.ObjectReference{
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "webapp", Namespace: "apps",
		},
		Severity:  "error",
		Timestamp: metav1.Now(),
		Message:   message,
		Reason:    "ValidationFailed",
		EventMetadata: map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": "main@sha1:731f7eaddfb6af01cb2173e18f0f75b0ba780ef1",
			"kustomize.toolkit.fluxcd.io/checksum": "drop-me",
			"event.toolkit.fluxcd.io/cluster":      "prod",
			"other.example.com/key":                "drop-me-too",
		},
		ReportingController: "kustomize-controller",
	}
}

func create(t *testing.T, r *REST, e *notification.Event) (*notification.Event, error) {
	t.Helper()
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	obj, err := r.Create(ctx, e, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*notification.Event), nil
}

// Creates without a name go through the Writer as the server wires it,
// through the registry without one: the same windows either way.
func TestTheSameEventIsRefusedWithinTheWindowAndAcceptedAfter(t *testing.T) {
	for _, wiring := range []struct {
		name    string
		storage func(*testing.T, *clocktesting.FakeClock) *REST
	}{
		{"registry", newStorage},
		{"writer", func(t *testing.T, clock *clocktesting.FakeClock) *REST { r, _ := newBatchStorage(t, clock); return r }},
	} {
		t.Run(wiring.name, func(t *testing.T) {
			// The store stamps creationTimestamp with the real time:
			// start there. Whatever the alignment of the 5m windows, the
			// repeats below fall in the first event's window or in the
			// next one.
			clock := clocktesting.NewFakeClock(time.Now())
			refusesTheSameEventWithinTheWindow(t, clock, wiring.storage(t, clock))
		})
	}
}

func refusesTheSameEventWithinTheWindow(t *testing.T, clock *clocktesting.FakeClock, r *REST) {
	first, err := create(t, r, newEvent("validation error"))
	if err != nil {
		t.Fatalf("first: %v", err)
	}
	if first.Name == "" {
		t.Fatal("no name was derived")
	}
	if _, ok := first.EventMetadata["kustomize.toolkit.fluxcd.io/checksum"]; ok || len(first.EventMetadata) != 2 {
		t.Errorf("metadata not cleaned: %v", first.EventMetadata)
	}

	clock.Step(30 * time.Second)
	if _, err := create(t, r, newEvent("validation error")); !apierrors.IsAlreadyExists(err) {
		t.Errorf("a repeat in the same window: %v, want AlreadyExists", err)
	}
	clock.Step(2 * time.Minute) // 2m30s after the first
	repeat := newEvent("validation error")
	repeat.Severity, repeat.Reason = "info", "Other" // not part of the key
	if _, err := create(t, r, repeat); !apierrors.IsAlreadyExists(err) {
		t.Errorf("a repeat across a window boundary within 5m: %v, want AlreadyExists", err)
	}
	if _, err := create(t, r, newEvent("another error")); err != nil {
		t.Errorf("a different message was refused: %v", err)
	}
	clock.Step(3 * time.Minute) // 5m30s after the first
	again, err := create(t, r, newEvent("validation error"))
	if err != nil {
		t.Fatalf("the same event after the window: %v", err)
	}
	if again.Name == first.Name {
		t.Errorf("the event after the window reused the name %s", first.Name)
	}
}

func TestRevisionAndTokenAreInTheKey(t *testing.T) {
	r := newStorage(t, clocktesting.NewFakeClock(time.Now()))
	if _, err := create(t, r, newEvent("msg")); err != nil {
		t.Fatal(err)
	}
	other := newEvent("msg")
	other.EventMetadata["kustomize.toolkit.fluxcd.io/revision"] = "main@sha1:0000000000000000000000000000000000000000"
	if _, err := create(t, r, other); err != nil {
		t.Errorf("another revision was refused: %v", err)
	}
	token := newEvent("msg")
	token.EventMetadata["kustomize.toolkit.fluxcd.io/token"] = "t1"
	if _, err := create(t, r, token); err != nil {
		t.Errorf("a token was refused: %v", err)
	}
	annotated := newEvent("msg")
	annotated.EventMetadata["event.toolkit.fluxcd.io/extra"] = "x"
	if _, err := create(t, r, annotated); !apierrors.IsAlreadyExists(err) {
		t.Errorf("other metadata made a new event: %v", err)
	}
}

func TestNamedEventsAreNotDeduplicated(t *testing.T) {
	r := newStorage(t, clocktesting.NewFakeClock(time.Now()))
	for _, name := range []string{"one", "two"} {
		e := newEvent("msg")
		e.Name = name
		if _, err := create(t, r, e); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNewRESTRefusesAWindowLongerThanTheRetention(t *testing.T) {
	if _, _, err := NewREST(runtime.NewScheme(), generic.RESTOptions{}, Options{Retention: time.Minute, DedupWindow: time.Hour}); err == nil {
		t.Error("accepted")
	}
}

func TestCreateRefusedWhileTooManyEventsAwaitDelivery(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	r := newStorage(t, clock)
	pending := 0
	r.opts.MaxPending, r.opts.Pending = 2, func() int { return pending }
	ctx := genericapirequest.WithNamespace(context.Background(), "apps")
	for i, want := range []bool{true, true, false} {
		pending = i
		_, err := r.Create(ctx, newEvent(fmt.Sprintf("backlog %d", i)), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		switch {
		case want && err != nil:
			t.Errorf("with %d pending: %v", pending, err)
		case !want && !apierrors.IsTooManyRequests(err):
			t.Errorf("with %d pending (the limit): %v, want 429", pending, err)
		case !want:
			if delay, ok := apierrors.SuggestsClientDelay(err); !ok || delay <= 0 {
				t.Errorf("the 429 suggests no retry delay: %v", err)
			}
		}
	}
}
