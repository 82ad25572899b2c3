// Package fuzzer fills Provider and Alert objects with random values that
// survive a round trip through v1beta2 (defaulted fields are always set).
package fuzzer

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// Funcs returns the fuzzer functions of the notification API group.
var Funcs = func(runtimeserializer.CodecFactory) []any {
	return []any{
		func(s *notification.ProviderSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Interval == nil {
				s.Interval = &metav1.Duration{Duration: time.Duration(c.Int63n(int64(time.Hour)))}
			}
			if s.Timeout == nil {
				s.Timeout = &metav1.Duration{Duration: time.Duration(c.Int63n(int64(time.Minute)))}
			}
		},
		func(s *notification.AlertSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.EventSeverity == "" {
				s.EventSeverity = notification.EventSeverityError
			}
		},
	}
}
