package integration

import (
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	"github.com/notification-apiserver/notification-apiserver/pkg/receiver"
)

// The receiver command's client (ConfigureClient) is not throttled by
// default (--kube-api-qps 0): the receiver then sends its batches itself,
// not through client-go's Request, and must answer the same.
func TestUnthrottledReceiverAnswersAsFluxDoes(t *testing.T) {
	cfg := rest.CopyConfig(clientConfig)
	cfg.RateLimiter = nil
	receiver.ConfigureClient(cfg, 0, 0)
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.NotificationV1beta2().RESTClient().(*rest.RESTClient).GetRateLimiter() != nil {
		t.Fatal("the client is throttled")
	}
	ns := "receiver-unthrottled"
	testReceiverAnswersAsFluxDoes(t, ns, strings.ReplaceAll(fluxEventJSON, `"namespace":"receiver"`, `"namespace":"`+ns+`"`),
		&receiver.Handler{Client: c, MaxBatch: 100})
}
