package event

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metatable "k8s.io/apimachinery/pkg/api/meta/table"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// tableConvertor prints NAME, SEVERITY, REASON, OBJECT, DELIVERED (n/m), AGE.
type tableConvertor struct{}

var eventColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Event."},
	{Name: "Severity", Type: "string", Description: "info or error."},
	{Name: "Reason", Type: "string", Description: "Reason of the event."},
	{Name: "Object", Type: "string", Description: "The Flux object the event is about, as kind/name."},
	{Name: "Delivered", Type: "string", Description: "Deliveries done of those the event matched."},
	{Name: "Age", Type: "string", Description: "Time since the Event was stored."},
}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{}
	if to, ok := opts.(*metav1.TableOptions); !ok || !to.NoHeaders {
		t.ColumnDefinitions = eventColumns
	}
	rows, err := metatable.MetaToTableRow(obj, func(o runtime.Object, _ metav1.Object, name, age string) ([]any, error) {
		e, ok := o.(*notification.Event)
		if !ok {
			return nil, fmt.Errorf("not an Event: %T", o)
		}
		delivered := 0
		for _, d := range e.Status.Deliveries {
			if d.State == notification.DeliveryDelivered {
				delivered++
			}
		}
		object := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
		return []any{name, e.Severity, e.Reason, object, fmt.Sprintf("%d/%d", delivered, len(e.Status.Deliveries)), age}, nil
	})
	if err != nil {
		return nil, err
	}
	t.Rows = rows
	if l, err := meta.ListAccessor(obj); err == nil {
		t.ResourceVersion = l.GetResourceVersion()
		t.Continue = l.GetContinue()
		t.RemainingItemCount = l.GetRemainingItemCount()
	} else if m, err := meta.Accessor(obj); err == nil {
		t.ResourceVersion = m.GetResourceVersion()
	}
	return t, nil
}
