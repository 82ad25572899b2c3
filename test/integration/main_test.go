// Package integration runs the real notification-apiserver in-process on a
// real embedded etcd, without a kube-apiserver, and drives it through the
// generated typed clientset.
package integration

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	v1beta2 "github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	serveroptions "github.com/notification-apiserver/notification-apiserver/pkg/cmd/server"
	servertesting "github.com/notification-apiserver/notification-apiserver/pkg/cmd/server/testing"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

// One server serves every test of the package: the generic API server
// registers process-wide metrics, so a second one in the same process
// would share them. Each test uses its own namespace.
var (
	clientConfig *rest.Config
	client       versioned.Interface
	server       *servertesting.TestServer
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	mt := &servertesting.MainT{}
	defer mt.Close()
	s := servertesting.Start(mt, func(o *serveroptions.Options) {
		// Retry quickly: the tests make receivers fail on purpose.
		o.Delivery.MinBackoff = 50 * time.Millisecond
		o.Delivery.MaxBackoff = 200 * time.Millisecond
		// Without a kube-apiserver, the involved objects' labels come from here.
		o.Delivery.Matcher.Labels = objectLabels
	})
	server = s
	clientConfig = s.ClientConfig
	client = versioned.NewForConfigOrDie(clientConfig)
	return m.Run()
}

// objectLabels stands for the metadata GET of a Flux object: the objects
// named "labelled" carry tier=web.
func objectLabels(_ context.Context, io v1beta2.ObjectReference) (map[string]string, error) {
	if io.Name == "labelled" {
		return map[string]string{"tier": "web"}, nil
	}
	return map[string]string{}, nil
}
