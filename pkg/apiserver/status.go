package apiserver

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/validation"
	"github.com/notification-apiserver/notification-apiserver/pkg/delivery"
	"github.com/notification-apiserver/notification-apiserver/pkg/groupcommit"
	eventstorage "github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/event"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/inprocess"
)

// statusWriters write the status the reconciler and the delivery loop
// compute into the server's own storage, in-process.
type statusWriters struct {
	providers, alerts, events rest.Updater
	// eventBatches, when set, writes Event statuses in batches.
	eventBatches *eventStatusBatches
}

// writeStatus sets the status of the stored object of the same UID as
// object, through u: set copies the status onto it.
func writeStatus[T runtime.Object](ctx context.Context, u rest.Updater, object metav1.Object, set func(stored T) error) (runtime.Object, error) {
	return inprocess.UpdateStatus(ctx, u, object.GetNamespace(), object.GetName(), object.GetUID(), func(obj runtime.Object) error {
		stored, ok := obj.(T)
		if !ok {
			var want T
			return fmt.Errorf("stored is a %T, not a %T", obj, want)
		}
		return set(stored)
	})
}

func (w statusWriters) provider(ctx context.Context, p *v1beta2.Provider) error {
	status := p.Status.DeepCopy()
	_, err := writeStatus(ctx, w.providers, p, func(stored *notification.Provider) error {
		return v1beta2.Convert_v1beta2_ProviderStatus_To_notification_ProviderStatus(status, &stored.Status, nil)
	})
	return err
}

func (w statusWriters) alert(ctx context.Context, a *v1beta2.Alert) error {
	status := a.Status.DeepCopy()
	_, err := writeStatus(ctx, w.alerts, a, func(stored *notification.Alert) error {
		return v1beta2.Convert_v1beta2_AlertStatus_To_notification_AlertStatus(status, &stored.Status, nil)
	})
	return err
}

func (w statusWriters) event(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error) {
	if w.eventBatches != nil {
		return w.eventBatches.write(ctx, e)
	}
	return w.eventAlone(ctx, e)
}

// eventAlone writes an Event's status through the registry, onto the
// latest version of the Event with e's UID.
func (w statusWriters) eventAlone(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error) {
	status := e.Status.DeepCopy()
	obj, err := writeStatus(ctx, w.events, e, func(stored *notification.Event) error {
		return v1beta2.Convert_v1beta2_EventStatus_To_notification_EventStatus(status, &stored.Status, nil)
	})
	if err != nil {
		return nil, err
	}
	written := &v1beta2.Event{}
	if err := Scheme.Convert(obj, written, nil); err != nil {
		return nil, err
	}
	return written, nil
}

// eventStatusBatches writes the statuses the delivery workers record at
// the same time in one etcd transaction (group commit): each over the
// version of the Event it was computed from. One that changed meanwhile
// (a user labelled it) is written alone through the registry.
type eventStatusBatches struct {
	alone     func(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error)
	writer    *eventstorage.Writer
	committer *groupcommit.Committer[*v1beta2.Event, writtenEvent]
}

// statusLinger spaces the status transactions. Without it they held the
// statuses of ~2.3 Events each at 1,500 events/s in make bench, and each
// took its share of etcd's raft, WAL and fsync from the creates that
// senders wait for; an Event's status is written at most this much later.
const statusLinger = 10 * time.Millisecond

type writtenEvent struct {
	event *v1beta2.Event
	err   error
}

// newEventStatusBatches writes the statuses of up to workers Events at a
// time: the delivery loop has no more under way.
func newEventStatusBatches(writer *eventstorage.Writer, workers int, alone func(context.Context, *v1beta2.Event) (*v1beta2.Event, error)) *eventStatusBatches {
	b := &eventStatusBatches{alone: alone, writer: writer}
	if workers <= 0 {
		workers = delivery.DefaultWorkers
	}
	// One transaction at a time, at most one per statusLinger unless all
	// the workers' statuses wait: a status write is off the delivery's
	// path (the receiver already has the event, and the worker goes on),
	// so the writes of the Events delivered meanwhile share the
	// transaction and its fsync.
	b.committer = groupcommit.New(b.commit, groupcommit.Options{
		MaxItems: min(workers, eventstorage.MaxTxnItems), MaxInFlight: 1, Linger: statusLinger,
	})
	return b
}

func (b *eventStatusBatches) write(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error) {
	w, err := b.committer.Do(ctx, e)
	if err != nil {
		return nil, err
	}
	return w.event, w.err
}

func (b *eventStatusBatches) commit(ctx context.Context, events []*v1beta2.Event) ([]writtenEvent, error) {
	out := make([]writtenEvent, len(events))
	internal := make([]*notification.Event, len(events))
	for i, e := range events {
		in := &notification.Event{}
		if err := Scheme.Convert(e, in, nil); err != nil {
			out[i].err = err
			continue
		}
		if errs := validation.ValidateEventStatus(in); len(errs) > 0 {
			out[i].err = apierrors.NewInvalid(notification.Kind("Event"), e.Name, errs)
			continue
		}
		internal[i] = in
	}
	toWrite := make([]*notification.Event, 0, len(events))
	index := make([]int, 0, len(events))
	for i, in := range internal {
		if in != nil {
			toWrite = append(toWrite, in)
			index = append(index, i)
		}
	}
	written, err := b.writer.UpdateStatus(ctx, toWrite)
	if err != nil {
		return nil, err
	}
	for k, in := range toWrite {
		i := index[k]
		if !written[k] {
			out[i].event, out[i].err = b.alone(ctx, events[i])
			continue
		}
		stored := &v1beta2.Event{}
		if err := Scheme.Convert(in, stored, nil); err != nil {
			out[i].err = err
			continue
		}
		out[i].event = stored
	}
	return out, nil
}
