package apiserver

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/registry/notification/inprocess"
)

// statusWriters write the status the reconciler and the delivery loop
// compute into the server's own storage, in-process.
type statusWriters struct {
	providers, alerts, events rest.Updater
}

func (w statusWriters) provider(ctx context.Context, p *v1beta2.Provider) error {
	status := p.Status.DeepCopy()
	_, err := inprocess.UpdateStatus(ctx, w.providers, p.Namespace, p.Name, p.UID, func(obj runtime.Object) error {
		stored, ok := obj.(*notification.Provider)
		if !ok {
			return fmt.Errorf("not a Provider: %T", obj)
		}
		return v1beta2.Convert_v1beta2_ProviderStatus_To_notification_ProviderStatus(status, &stored.Status, nil)
	})
	return err
}

func (w statusWriters) alert(ctx context.Context, a *v1beta2.Alert) error {
	status := a.Status.DeepCopy()
	_, err := inprocess.UpdateStatus(ctx, w.alerts, a.Namespace, a.Name, a.UID, func(obj runtime.Object) error {
		stored, ok := obj.(*notification.Alert)
		if !ok {
			return fmt.Errorf("not an Alert: %T", obj)
		}
		return v1beta2.Convert_v1beta2_AlertStatus_To_notification_AlertStatus(status, &stored.Status, nil)
	})
	return err
}

func (w statusWriters) event(ctx context.Context, e *v1beta2.Event) (*v1beta2.Event, error) {
	status := e.Status.DeepCopy()
	obj, err := inprocess.UpdateStatus(ctx, w.events, e.Namespace, e.Name, e.UID, func(obj runtime.Object) error {
		stored, ok := obj.(*notification.Event)
		if !ok {
			return fmt.Errorf("not an Event: %T", obj)
		}
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
