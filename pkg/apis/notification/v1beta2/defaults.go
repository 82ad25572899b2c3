package v1beta2

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	// DefaultProviderInterval is how often a Provider is reconciled when
	// spec.interval is not set.
	DefaultProviderInterval = 10 * time.Minute
	// DefaultProviderTimeout bounds one delivery when spec.timeout is not set.
	DefaultProviderTimeout = 15 * time.Second
	// DefaultEventSeverity is the severity an Alert selects when none is set.
	DefaultEventSeverity = "info"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_ProviderSpec fills in the interval and timeout.
func SetDefaults_ProviderSpec(obj *ProviderSpec) {
	if obj.Interval == nil {
		obj.Interval = &metav1.Duration{Duration: DefaultProviderInterval}
	}
	if obj.Timeout == nil {
		obj.Timeout = &metav1.Duration{Duration: DefaultProviderTimeout}
	}
}

// SetDefaults_AlertSpec fills in the event severity.
func SetDefaults_AlertSpec(obj *AlertSpec) {
	if obj.EventSeverity == "" {
		obj.EventSeverity = DefaultEventSeverity
	}
}
