// Package install registers the notification API group in a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// Install registers the internal and v1beta2 types, with v1beta2 preferred.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(notification.AddToScheme(scheme))
	utilruntime.Must(v1beta2.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1beta2.SchemeGroupVersion))
}
