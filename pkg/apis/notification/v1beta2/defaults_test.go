package v1beta2_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/install"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	install.Install(s)
	return s
}

func TestProviderDefaultsFillIntervalAndTimeoutOnly(t *testing.T) {
	p := &v1beta2.Provider{Spec: v1beta2.ProviderSpec{Type: "slack"}}
	newScheme().Default(p)
	if p.Spec.Interval == nil || p.Spec.Interval.Duration != 10*time.Minute {
		t.Errorf("interval = %v, want 10m", p.Spec.Interval)
	}
	if p.Spec.Timeout == nil || p.Spec.Timeout.Duration != 15*time.Second {
		t.Errorf("timeout = %v, want 15s", p.Spec.Timeout)
	}
	if p.Spec.Channel != "" || p.Spec.Suspend {
		t.Errorf("defaulting touched other fields: %+v", p.Spec)
	}
}

func TestProviderDefaultsKeepWhatIsSet(t *testing.T) {
	p := &v1beta2.Provider{Spec: v1beta2.ProviderSpec{
		Type:     "slack",
		Interval: &metav1.Duration{Duration: time.Hour},
		Timeout:  &metav1.Duration{Duration: time.Second},
	}}
	newScheme().Default(p)
	if p.Spec.Interval.Duration != time.Hour || p.Spec.Timeout.Duration != time.Second {
		t.Errorf("defaulting replaced set values: interval %v timeout %v", p.Spec.Interval, p.Spec.Timeout)
	}
}

func TestAlertDefaultsEventSeverityToInfo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{{"", "info"}, {"error", "error"}} {
		a := &v1beta2.Alert{Spec: v1beta2.AlertSpec{EventSeverity: tc.in}}
		newScheme().Default(a)
		if a.Spec.EventSeverity != tc.want {
			t.Errorf("eventSeverity %q defaulted to %q, want %q", tc.in, a.Spec.EventSeverity, tc.want)
		}
	}
}

func TestProviderListItemsAreDefaulted(t *testing.T) {
	l := &v1beta2.ProviderList{Items: []v1beta2.Provider{{Spec: v1beta2.ProviderSpec{Type: "slack"}}}}
	newScheme().Default(l)
	if l.Items[0].Spec.Timeout == nil {
		t.Errorf("list items were not defaulted")
	}
}
