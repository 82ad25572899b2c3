package table

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

func providerConditions(obj runtime.Object) ([]metav1.Condition, bool) {
	p, ok := obj.(*notification.Provider)
	if !ok {
		return nil, false
	}
	return p.Status.Conditions, true
}

func TestRowsShowNameAgeReadyAndStatus(t *testing.T) {
	ready := notification.Provider{ObjectMeta: metav1.ObjectMeta{Name: "ready", CreationTimestamp: metav1.NewTime(time.Now().Add(-2 * time.Hour))}}
	ready.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Message: "Initialized"}}
	fresh := notification.Provider{ObjectMeta: metav1.ObjectMeta{Name: "fresh", CreationTimestamp: metav1.Now()}}
	list := &notification.ProviderList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next"}, Items: []notification.Provider{ready, fresh}}

	table, err := New(providerConditions).ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 4 {
		t.Fatalf("%d columns, want 4", len(table.ColumnDefinitions))
	}
	want := [][]any{{"ready", "120m", "True", "Initialized"}, {"fresh", "0s", "Unknown", ""}}
	for i, row := range table.Rows {
		for j, cell := range row.Cells {
			if cell != want[i][j] {
				t.Errorf("row %d cell %d = %v, want %v", i, j, cell, want[i][j])
			}
		}
	}
	if table.ResourceVersion != "42" || table.Continue != "next" {
		t.Errorf("list metadata not copied: rv=%q continue=%q", table.ResourceVersion, table.Continue)
	}
}

func TestNoHeadersOmitsColumns(t *testing.T) {
	p := &notification.Provider{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "7"}}
	table, err := New(providerConditions).ConvertToTable(context.Background(), p, &metav1.TableOptions{NoHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 0 || len(table.Rows) != 1 || table.ResourceVersion != "7" {
		t.Errorf("table %+v: want no headers, one row and the object's resourceVersion", table)
	}
}
