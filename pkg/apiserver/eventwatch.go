package apiserver

import (
	"context"
	"fmt"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// eventsInProcess lists and watches Events straight from the server's own
// storage, for the delivery loop: each Event reaches the loop decoded once
// from etcd, where a watch through the loopback client had the server
// encode it and the client decode it again, with the whole request chain
// and HTTP/2 framing between. The objects are v1beta2, as the client gives.
type eventsInProcess struct {
	storage interface {
		rest.Lister
		rest.Watcher
	}
}

func (l eventsInProcess) options(opts metav1.ListOptions) (*metainternalversion.ListOptions, error) {
	out := &metainternalversion.ListOptions{}
	if err := metainternalversion.Convert_v1_ListOptions_To_internalversion_ListOptions(&opts, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// ListWithContext lists the Events of every namespace.
func (l eventsInProcess) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	options, err := l.options(opts)
	if err != nil {
		return nil, err
	}
	obj, err := l.storage.List(genericapirequest.WithNamespace(ctx, metav1.NamespaceAll), options)
	if err != nil {
		return nil, err
	}
	out := &v1beta2.EventList{}
	if err := Scheme.Convert(obj, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// WatchWithContext watches the Events of every namespace until ctx ends or
// the watch is stopped.
func (l eventsInProcess) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	options, err := l.options(opts)
	if err != nil {
		return nil, err
	}
	w, err := l.storage.Watch(genericapirequest.WithNamespace(ctx, metav1.NamespaceAll), options)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(in watch.Event) (watch.Event, bool) {
		e, ok := in.Object.(*notification.Event)
		if !ok {
			return in, true // an error Status
		}
		out := &v1beta2.Event{}
		if err := Scheme.Convert(e, out, nil); err != nil {
			return watch.Event{Type: watch.Error, Object: &metav1.Status{
				Status: metav1.StatusFailure, Code: 500, Message: fmt.Sprintf("converting an Event: %v", err),
			}}, true
		}
		in.Object = out
		return in, true
	}), nil
}

// List and Watch are the context-free forms client-go still asks for.
func (l eventsInProcess) List(opts metav1.ListOptions) (runtime.Object, error) {
	return l.ListWithContext(context.Background(), opts)
}

func (l eventsInProcess) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return l.WatchWithContext(context.Background(), opts)
}

// IsWatchListSemanticsUnSupported: without a watch cache the storage
// cannot stream the initial list; the reflector lists, then watches.
func (eventsInProcess) IsWatchListSemanticsUnSupported() bool { return true }
