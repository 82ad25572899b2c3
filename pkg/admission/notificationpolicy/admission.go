// Package notificationpolicy is the validating admission plugin of the
// notification API. The shape rules run in the registry strategies; this
// plugin adds what needs the cluster or the operator: warnings for
// Secrets and Providers that do not exist (yet), warnings for settings a
// type ignores, and the operator's address policy.
package notificationpolicy

import (
	"context"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	genericinitializer "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/warning"
	kubeinformers "k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/notification-apiserver/notification-apiserver/pkg/admission/initializer"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/validation"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
	listers "github.com/notification-apiserver/notification-apiserver/pkg/generated/listers/notification/v1beta2"
)

// PluginName is the plugin's name in the admission chain.
const PluginName = "NotificationPolicy"

// Register adds the plugin, with the operator's address policy, to plugins.
func Register(plugins *admission.Plugins, policy address.Policy) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) {
		return New(policy), nil
	})
}

// Plugin checks Providers and Alerts on create and update.
type Plugin struct {
	*admission.Handler
	policy    address.Policy
	secrets   corelisters.SecretLister
	providers listers.ProviderLister
	synced    []func() bool
}

var (
	_ admission.ValidationInterface                       = &Plugin{}
	_ genericinitializer.WantsExternalKubeInformerFactory = &Plugin{}
	_ initializer.WantsNotificationInformerFactory        = &Plugin{}
)

// New returns the plugin with an address policy.
func New(policy address.Policy) *Plugin {
	p := &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), policy: policy}
	p.SetReadyFunc(func() bool {
		for _, synced := range p.synced {
			if !synced() {
				return false
			}
		}
		return true
	})
	return p
}

// SetExternalKubeInformerFactory gives the plugin its Secret lister.
func (p *Plugin) SetExternalKubeInformerFactory(f kubeinformers.SharedInformerFactory) {
	informer := f.Core().V1().Secrets()
	p.secrets = informer.Lister()
	p.synced = append(p.synced, informer.Informer().HasSynced)
}

// SetNotificationInformerFactory gives the plugin its Provider lister.
func (p *Plugin) SetNotificationInformerFactory(f informers.SharedInformerFactory) {
	informer := f.Notification().V1beta2().Providers()
	p.providers = informer.Lister()
	p.synced = append(p.synced, informer.Informer().HasSynced)
}

// ValidateInitialization checks that both listers were given.
func (p *Plugin) ValidateInitialization() error {
	if p.secrets == nil {
		return fmt.Errorf("%s: missing the Secret lister", PluginName)
	}
	if p.providers == nil {
		return fmt.Errorf("%s: missing the Provider lister", PluginName)
	}
	return nil
}

// Validate checks a Provider or an Alert being created or updated.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" || a.GetResource().Group != notification.GroupName {
		return nil
	}
	switch obj := a.GetObject().(type) {
	case *notification.Provider:
		return p.validateProvider(ctx, a, obj)
	case *notification.Alert:
		return p.validateAlert(ctx, a, obj)
	}
	return nil
}

func (p *Plugin) validateProvider(ctx context.Context, a admission.Attributes, provider *notification.Provider) error {
	spec := &provider.Spec
	var errs field.ErrorList
	if err := p.policy.CheckURL(ctx, spec.Type, spec.Address); err != nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "address"), err.Error()))
	}
	if err := p.policy.CheckURL(ctx, "generic", spec.Proxy); err != nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "proxy"), err.Error()))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(notification.Kind("Provider"), provider.Name, errs)
	}
	for _, w := range validation.ProviderWarnings(spec) {
		warning.AddWarning(ctx, "", w)
	}
	if !p.WaitForReady() {
		// Existence warnings are advice: never block a write on a cache.
		return nil
	}
	for _, r := range []struct {
		path string
		ref  *notification.LocalObjectReference
	}{{"spec.secretRef", spec.SecretRef}, {"spec.certSecretRef", spec.CertSecretRef}} {
		path, ref := r.path, r.ref
		if ref == nil {
			continue
		}
		if _, err := p.secrets.Secrets(a.GetNamespace()).Get(ref.Name); apierrors.IsNotFound(err) {
			warning.AddWarning(ctx, "", fmt.Sprintf("%s: Secret %s/%s does not exist (yet); the Provider will not be Ready until it does", path, a.GetNamespace(), ref.Name))
		}
	}
	return nil
}

func (p *Plugin) validateAlert(ctx context.Context, a admission.Attributes, alert *notification.Alert) error {
	if !p.WaitForReady() {
		return nil
	}
	name := alert.Spec.ProviderRef.Name
	if _, err := p.providers.Providers(a.GetNamespace()).Get(name); apierrors.IsNotFound(err) {
		warning.AddWarning(ctx, "", fmt.Sprintf("spec.providerRef: Provider %s/%s does not exist (yet); the Alert will not be Ready until it does", a.GetNamespace(), name))
	}
	return nil
}
