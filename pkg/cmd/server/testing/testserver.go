// Package testing starts a real notification-apiserver in the test's
// process, on a free loopback port and a real embedded etcd, without a
// kube-apiserver: authentication, authorization and the kube-dependent
// admission chain are off, and clients use the privileged loopback config.
package testing

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	kubeinformers "k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/admission/initializer"
	"github.com/notification-apiserver/notification-apiserver/pkg/admission/notificationpolicy"
	"github.com/notification-apiserver/notification-apiserver/pkg/cmd/server"
)

// TestServer is a running server.
type TestServer struct {
	// ClientConfig reaches the server as a privileged loopback client.
	ClientConfig *rest.Config
	// EtcdDir is the embedded etcd's data directory.
	EtcdDir string
	// EtcdURL is where the embedded etcd serves clients.
	EtcdURL string
	// Kube is the fake Kubernetes API the server reads Secrets from.
	Kube *kubefake.Clientset
}

// T is the part of testing.TB that Start uses, so that TestMain can start
// one server for a whole package.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

var _ T = testing.TB(nil)

// Start starts a server and stops it when the test ends. Options can be
// adjusted by mutate before the server is built.
func Start(t T, mutate func(*server.Options)) *TestServer {
	t.Helper()
	o := server.NewOptions()
	o.EmbeddedEtcdDir = t.TempDir()
	ro := o.RecommendedOptions
	ro.Authentication = nil
	ro.Authorization = nil
	ro.CoreAPI = nil
	ro.Admission = nil
	ro.Features.EnablePriorityAndFairness = false

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	ro.SecureServing.Listener = l
	ro.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	ro.SecureServing.BindPort = l.Addr().(*net.TCPAddr).Port
	ro.SecureServing.ServerCert.CertDirectory = "" // in-memory self-signed certificate
	if mutate != nil {
		mutate(o)
	}

	if err := o.Complete(); err != nil {
		t.Fatalf("completing options: %v", err)
	}
	if err := o.Validate(); err != nil {
		o.Close()
		t.Fatalf("validating options: %v", err)
	}
	cfg, err := o.Config()
	if err != nil {
		o.Close()
		t.Fatalf("configuring: %v", err)
	}
	// Without a kube-apiserver, the admission chain is built by hand on a
	// fake Kubernetes API.
	kube := kubefake.NewClientset()
	kubeInformers := kubeinformers.NewSharedInformerFactory(kube, 0)
	plugin := notificationpolicy.New(o.AddressPolicy)
	genericadmissioninit.New(kube, nil, kubeInformers, nil, nil, nil, nil, nil).Initialize(plugin)
	initializer.New(cfg.ExtraConfig.NotificationInformers).Initialize(plugin)
	if err := plugin.ValidateInitialization(); err != nil {
		o.Close()
		t.Fatalf("initializing admission: %v", err)
	}
	cfg.GenericConfig.AdmissionControl = plugin
	cfg.GenericConfig.SharedInformerFactory = kubeInformers
	cfg.ExtraConfig.KubeClient = kube
	cfg.ExtraConfig.KubeInformers = kubeInformers
	cfg.ExtraConfig.LeaderElection.Namespace = "default"

	s, err := cfg.Complete().New()
	if err != nil {
		o.Close()
		t.Fatalf("building the server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.GenericAPIServer.PrepareRun().RunWithContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Errorf("server did not stop within 60s")
		}
		o.Close()
	})

	clientConfig := rest.CopyConfig(s.GenericAPIServer.LoopbackClientConfig)
	if err := waitReady(clientConfig, done); err != nil {
		t.Fatalf("%v", err)
	}
	return &TestServer{
		ClientConfig: clientConfig,
		EtcdDir:      o.EmbeddedEtcdDir,
		EtcdURL:      o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList[0],
		Kube:         kube,
	}
}

func waitReady(cfg *rest.Config, done <-chan error) error {
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	var lastErr error
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("server stopped while starting: %v", err)
		default:
		}
		resp, err := hc.Get(cfg.Host + "/readyz")
		if err != nil {
			lastErr = err
			return false, nil
		}
		resp.Body.Close()
		lastErr = fmt.Errorf("/readyz answered %d", resp.StatusCode)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("server not ready: %v (last: %v)", err, lastErr)
	}
	return nil
}

// MainT lets TestMain start a server shared by a package's tests. Fatalf
// panics, which stops TestMain with the message; Cleanup functions run
// when Close is called.
type MainT struct {
	cleanups []func()
	dirs     []string
}

var _ T = &MainT{}

func (*MainT) Helper() {}

func (*MainT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (*MainT) Errorf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func (m *MainT) Cleanup(f func()) { m.cleanups = append(m.cleanups, f) }

func (m *MainT) TempDir() string {
	dir, err := os.MkdirTemp("", "notification-apiserver-test-")
	if err != nil {
		panic(err)
	}
	m.dirs = append(m.dirs, dir)
	return dir
}

// Close runs the cleanups in reverse order and removes the temporary dirs.
func (m *MainT) Close() {
	for i := len(m.cleanups) - 1; i >= 0; i-- {
		m.cleanups[i]()
	}
	for _, d := range m.dirs {
		os.RemoveAll(d)
	}
}
