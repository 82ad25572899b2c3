package server

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

var someManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}

func TestInformersKeepObjectsWithoutTheirManagedFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  metav1.Object
	}{
		{"a Provider", &v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Name: "slack", ManagedFields: someManagedFields},
			Spec: v1beta2.ProviderSpec{Type: "slack"}}},
		{"an Alert", &v1beta2.Alert{ObjectMeta: metav1.ObjectMeta{Name: "all", ManagedFields: someManagedFields}}},
		{"a Secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token", ManagedFields: someManagedFields},
			Data: map[string][]byte{"token": []byte("t")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withoutManagedFields(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			m := got.(metav1.Object)
			if m.GetManagedFields() != nil {
				t.Errorf("managed fields kept: %v", m.GetManagedFields())
			}
			if m.GetName() != tc.obj.GetName() {
				t.Errorf("name %q, want %q", m.GetName(), tc.obj.GetName())
			}
		})
	}
	t.Run("what is not an object passes as it is", func(t *testing.T) {
		tombstone := cache.DeletedFinalStateUnknown{Key: "ns/name"}
		if got, err := withoutManagedFields(tombstone); err != nil || got != tombstone {
			t.Errorf("got %v, %v", got, err)
		}
	})
}

func TestTheSecretInformerKeepsTheDataAndDropsTheManagedFields(t *testing.T) {
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "token", ManagedFields: someManagedFields},
		Data:       map[string][]byte{"token": []byte("t")},
	})
	f := kubeinformers.NewSharedInformerFactory(client, 0)
	if err := stripSecretsManagedFields(f); err != nil {
		t.Fatal(err)
	}
	lister := startSecrets(t, f)
	s, err := lister.Secrets("flux-system").Get("token")
	if err != nil {
		t.Fatal(err)
	}
	if s.ManagedFields != nil || string(s.Data["token"]) != "t" {
		t.Errorf("managed fields %v, data %v", s.ManagedFields, s.Data)
	}
}

func TestNoKubernetesInformersNothingToStrip(t *testing.T) {
	if err := stripSecretsManagedFields(nil); err != nil {
		t.Error(err)
	}
}

// The Secret informer every part shares asks the API for the Secrets a
// Provider can use: not Helm's release records.
func TestTheSecretInformerLeavesOutHelmReleases(t *testing.T) {
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "token"},
		Data:       map[string][]byte{"token": []byte("t")},
	})
	selectors := make(chan string, 10)
	client.PrependReactor("list", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		selectors <- action.(k8stesting.ListAction).GetListRestrictions().Fields.String()
		return false, nil, nil
	})
	f := kubeinformers.NewSharedInformerFactory(client, 0)
	watchUsableSecrets(f)
	if err := stripSecretsManagedFields(f); err != nil {
		t.Fatal(err)
	}
	lister := startSecrets(t, f)
	select {
	case got := <-selectors:
		if got != "type!=helm.sh/release.v1" {
			t.Errorf("the Secrets were listed with the field selector %q, want type!=helm.sh/release.v1", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Secrets were not listed")
	}
	if _, err := lister.Secrets("flux-system").Get("token"); err != nil {
		t.Errorf("a Secret a Provider can use: %v", err)
	}
}

// startSecrets starts f until the test ends and returns its Secret lister
// once the cache has synced.
func startSecrets(t *testing.T, f kubeinformers.SharedInformerFactory) corelisters.SecretLister {
	t.Helper()
	lister := f.Core().V1().Secrets().Lister()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return lister
}
