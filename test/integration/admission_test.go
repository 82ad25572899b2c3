package integration

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

// warnings collects the warnings the server sends back.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

func warningClient(t *testing.T) (versioned.Interface, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(clientConfig)
	cfg.WarningHandler = w
	return versioned.NewForConfigOrDie(cfg), w
}

func contains(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

func TestAdmissionWarnsOfMissingSecretsUntilTheyExist(t *testing.T) {
	ns := "admission-secrets"
	c, w := warningClient(t)
	p := newProvider(ns, "early")
	p.Spec.CertSecretRef = nil
	if _, err := c.NotificationV1beta2().Providers(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a Provider whose Secret is missing was refused: %v", err)
	}
	if got := w.take(); !contains(got, "spec.secretRef: Secret admission-secrets/slack-bot-token does not exist") {
		t.Errorf("warnings %q lack the missing Secret", got)
	}

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "slack-bot-token"}, StringData: map[string]string{"token": "xoxb-s3cr3t"}}
	if _, err := server.Kube.CoreV1().Secrets(ns).Create(t.Context(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The plugin reads Secrets from an informer: wait until it has the new one.
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.NotificationV1beta2().Providers(ns).Create(ctx, newProvider(ns, "late-"+time.Now().Format("150405.000000")[7:]), metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return !contains(w.take(), "does not exist"), nil
	})
	if err != nil {
		t.Errorf("the warning stayed after the Secret was created: %v", err)
	}
}

func TestAdmissionWarnsOfIgnoredSettings(t *testing.T) {
	ns := "admission-ignored"
	c, w := warningClient(t)
	p := newProvider(ns, "telegram")
	p.Spec.Type, p.Spec.Address, p.Spec.Channel = "telegram", "", "-100123"
	p.Spec.Proxy = "http://user:pr0xy-s3cr3t@proxy.example.com:3128"
	if _, err := c.NotificationV1beta2().Providers(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create: %v", err)
	}
	got := w.take()
	for _, want := range []string{"spec.proxy: type telegram does not send through a proxy", "spec.proxy: it carries credentials"} {
		if !contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	if contains(got, "pr0xy-s3cr3t") {
		t.Errorf("warnings %q show the proxy password", got)
	}
}

func TestAdmissionWarnsOfAMissingProvider(t *testing.T) {
	ns := "admission-alerts"
	c, w := warningClient(t)
	if _, err := c.NotificationV1beta2().Alerts(ns).Create(t.Context(), newAlert(ns, "orphan"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("an Alert whose Provider is missing was refused: %v", err)
	}
	if got := w.take(); !contains(got, "spec.providerRef: Provider admission-alerts/slack-bot does not exist") {
		t.Errorf("warnings %q lack the missing Provider", got)
	}
	if _, err := c.NotificationV1beta2().Providers(ns).Create(t.Context(), newProvider(ns, "slack-bot"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.take()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		a, err := c.NotificationV1beta2().Alerts(ns).Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		a.Spec.Summary = time.Now().String()
		if _, err := c.NotificationV1beta2().Alerts(ns).Update(ctx, a, metav1.UpdateOptions{}); err != nil {
			return false, nil
		}
		return !contains(w.take(), "does not exist"), nil
	})
	if err != nil {
		t.Errorf("the warning stayed after the Provider was created: %v", err)
	}
}
