package reconcile

import (
	"context"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/fake"
	informers "github.com/notification-apiserver/notification-apiserver/pkg/generated/informers/externalversions"
)

// TestRunReturnsWhenLeadershipEndsAndRunsAgain: losing the Lease cancels
// Run's context; every worker must stop, so that Run returns, and a later
// Run (the Lease won back) reconciles again with the same queues.
func TestRunReturnsWhenLeadershipEndsAndRunsAgain(t *testing.T) {
	c, client, _, ctx := startController(t)

	for term := 1; term <= 3; term++ {
		leading, lose := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Run(leading, 4) }()
		name := "p" + strconv.Itoa(term)
		p := &v1beta2.Provider{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, Generation: 1},
			Spec: v1beta2.ProviderSpec{Type: "generic", Address: "https://example.com/hook"}}
		if _, err := client.NotificationV1beta2().Providers("apps").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := client.NotificationV1beta2().Providers("apps").Get(ctx, name, metav1.GetOptions{})
			if err == nil && got.Status.ObservedGeneration == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("term %d: Provider %s not reconciled within 30s", term, name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		lose()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("term %d: Run did not return within 30s of losing the Lease", term)
		}
	}
}

// startController makes a Controller over fake clients and starts its
// informers, until the test ends; it does not Run the Controller.
func startController(t *testing.T) (*Controller, *fake.Clientset, informers.SharedInformerFactory, context.Context) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1beta2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	kube := kubefake.NewClientset()
	nf := informers.NewSharedInformerFactory(client, 0)
	kf := kubeinformers.NewSharedInformerFactory(kube, 0)
	c, err := New(client, kube, nf, kf, scheme)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	nf.Start(ctx.Done())
	kf.Start(ctx.Done())
	return c, client, nf, ctx
}
