package notificationpolicy

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/warning"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/fake"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
)

type recorder struct{ warnings []string }

func (r *recorder) AddWarning(_, text string) { r.warnings = append(r.warnings, text) }

func newPlugin(t testing.TB, policy address.Policy) *Plugin {
	t.Helper()
	kube := kubefake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "present"}})
	kf := kubeinformers.NewSharedInformerFactory(kube, 0)
	nf := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	p := New(policy)
	p.SetExternalKubeInformerFactory(kf)
	p.SetNotificationInformerFactory(nf)
	if err := p.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	kf.Start(t.Context().Done())
	nf.Start(t.Context().Done())
	kf.WaitForCacheSync(t.Context().Done())
	nf.WaitForCacheSync(t.Context().Done())
	return p
}

func validate(t testing.TB, p *Plugin, obj runtime.Object, subresource string) ([]string, error) {
	t.Helper()
	rec := &recorder{}
	ctx := warning.WithWarningRecorder(context.Background(), rec)
	var kind, resource string
	switch obj.(type) {
	case *notification.Provider:
		kind, resource = "Provider", "providers"
	case *notification.Alert:
		kind, resource = "Alert", "alerts"
	}
	attrs := admission.NewAttributesRecord(obj, nil,
		notification.Kind(kind).WithVersion(""), "ns", "x", notification.Resource(resource).WithVersion(""),
		subresource, admission.Create, &metav1.CreateOptions{}, false, nil)
	err := p.Validate(ctx, attrs, nil)
	return rec.warnings, err
}

func provider(typ, addr, proxy string) *notification.Provider {
	return &notification.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "x"},
		Spec:       notification.ProviderSpec{Type: typ, Address: addr, Proxy: proxy},
	}
}

func TestAddressPolicyRefusesWithFieldPaths(t *testing.T) {
	p := newPlugin(t, address.Policy{DenyInternal: true, RequireHTTPS: true})
	tests := []struct {
		name      string
		obj       *notification.Provider
		wantField string
		wantMsg   string
	}{
		{"the metadata address", provider("generic", "https://169.254.169.254/latest/meta-data", ""), "spec.address", "internal address 169.254.169.254"},
		{"plain http", provider("generic", "http://93.184.216.34/hook", ""), "spec.address", "requires https"},
		{"a loopback proxy", provider("generic", "https://93.184.216.34/hook", "https://127.0.0.1:3128"), "spec.proxy", "internal address 127.0.0.1"},
		{"a private repository host", provider("gitea", "https://10.0.0.2/o/r", ""), "spec.address", "internal address 10.0.0.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validate(t, p, tc.obj, "")
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want 422", err)
			}
			causes := err.(apierrors.APIStatus).Status().Details.Causes
			if len(causes) != 1 || causes[0].Field != tc.wantField || !strings.Contains(causes[0].Message, tc.wantMsg) {
				t.Errorf("causes %+v, want one on %s saying %q", causes, tc.wantField, tc.wantMsg)
			}
		})
	}
	if _, err := validate(t, p, provider("generic", "https://93.184.216.34/hook", ""), ""); err != nil {
		t.Errorf("a public https address was refused: %v", err)
	}
}

func TestPolicyOffAllowsLoopback(t *testing.T) {
	p := newPlugin(t, address.Policy{})
	if _, err := validate(t, p, provider("generic", "http://127.0.0.1:9000/hook", ""), ""); err != nil {
		t.Errorf("loopback refused without a policy: %v", err)
	}
}

func TestWarningsForSecretsAndProviders(t *testing.T) {
	p := newPlugin(t, address.Policy{})
	prov := provider("slack", "https://slack.com/api/chat.postMessage", "")
	prov.Spec.SecretRef = &notification.LocalObjectReference{Name: "present"}
	prov.Spec.CertSecretRef = &notification.LocalObjectReference{Name: "absent"}
	warnings, err := validate(t, p, prov, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "spec.certSecretRef: Secret ns/absent does not exist") {
		t.Errorf("warnings %q, want one for the absent CA Secret", warnings)
	}

	alert := &notification.Alert{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"},
		Spec: notification.AlertSpec{ProviderRef: notification.LocalObjectReference{Name: "nobody"}}}
	warnings, err = validate(t, p, alert, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "spec.providerRef: Provider ns/nobody does not exist") {
		t.Errorf("warnings %q, want one for the missing Provider", warnings)
	}
}

func TestStatusWritesAreNotChecked(t *testing.T) {
	p := newPlugin(t, address.Policy{DenyInternal: true})
	warnings, err := validate(t, p, provider("generic", "https://127.0.0.1/", ""), "status")
	if err != nil || len(warnings) != 0 {
		t.Errorf("a status write was checked: %v %q", err, warnings)
	}
}
