// Package initializer hands the notification API's informers to the
// admission plugins that want them.
package initializer

import (
	"k8s.io/apiserver/pkg/admission"

	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
)

// WantsNotificationInformerFactory is implemented by plugins that read
// Providers or Alerts.
type WantsNotificationInformerFactory interface {
	SetNotificationInformerFactory(informers.SharedInformerFactory)
	admission.InitializationValidator
}

type notificationInitializer struct {
	informers informers.SharedInformerFactory
}

// New returns an initializer that gives plugins the informer factory f.
func New(f informers.SharedInformerFactory) admission.PluginInitializer {
	return notificationInitializer{informers: f}
}

// Initialize sets the informer factory on plugins that want it.
func (i notificationInitializer) Initialize(plugin admission.Interface) {
	if wants, ok := plugin.(WantsNotificationInformerFactory); ok {
		wants.SetNotificationInformerFactory(i.informers)
	}
}
