// Package table prints Providers and Alerts for `kubectl get`: NAME, AGE,
// READY and STATUS, as Flux's printer columns do.
package table

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metatable "k8s.io/apimachinery/pkg/api/meta/table"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ConditionsFunc returns the status conditions of one object, or false when
// obj is not of the kind the convertor serves.
type ConditionsFunc func(obj runtime.Object) ([]metav1.Condition, bool)

// Convertor turns objects with status conditions into table rows.
type Convertor struct {
	conditions ConditionsFunc
}

// New returns a Convertor that reads conditions with fn.
func New(fn ConditionsFunc) Convertor {
	return Convertor{conditions: fn}
}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the object."},
	// kubectl does not humanize dates, so age is a string.
	{Name: "Age", Type: "string", Description: "Time since the object was created."},
	{Name: "Ready", Type: "string", Description: "Status of the Ready condition."},
	{Name: "Status", Type: "string", Description: "Message of the Ready condition."},
}

// ConvertToTable implements rest.TableConvertor.
func (c Convertor) ConvertToTable(_ context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	t := &metav1.Table{}
	if to, ok := opts.(*metav1.TableOptions); !ok || !to.NoHeaders {
		t.ColumnDefinitions = columns
	}
	rows, err := metatable.MetaToTableRow(obj, func(o runtime.Object, _ metav1.Object, name, age string) ([]any, error) {
		conds, _ := c.conditions(o)
		ready, message := "Unknown", ""
		if cond := meta.FindStatusCondition(conds, "Ready"); cond != nil {
			ready, message = string(cond.Status), cond.Message
		}
		return []any{name, age, ready, message}, nil
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
