package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// Flux's notification-controller, the fire-and-forget peer of our delivery
// path, measured in the same run: the same events, posters and sink.
//
// Its CustomResourceDefinitions are in our API group, which our APIService
// serves in the control plane's kube-apiserver, so it gets a kube-apiserver
// of its own for the step: the same binary on the same etcd under another
// prefix, with the control plane's certificates. Only the controller's CPU
// and memory are counted, as only the server's and receiver's are for ours.

const fluxNS = "bench-flux"

// fluxResult is what the peer measured.
type fluxResult struct {
	rate, p50, p99       float64
	cpuPerEvent          float64 // µs
	cpuMachine, busy     float64 // µs per event and %, the whole machine
	steadyP50, steadyP99 float64
	rssBurst             float64 // MiB, 10 s after the b.burst events
}

// warmFlux waits until an event posted to the peer's controller reaches
// the sink: its caches then hold the Alert and the Provider.
func (b *bench) warmFlux(ctx context.Context, p *fluxPeer, post poster) error {
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if p.controller.exited() {
			return false, fmt.Errorf("it exited: %s", p.controller.cmd.ProcessState)
		}
		run := fmt.Sprintf("fluxwarm%d", time.Now().UnixNano())
		if post(ctx, run, 0) != nil {
			return false, nil
		}
		got, _ := b.sink.wait(run, 1, 2*time.Second)
		return len(got) == 1, nil
	}); err != nil {
		return fmt.Errorf("Flux's notification-controller delivered nothing to the sink (log: %s): %w", filepath.Join(p.dir, "controller.log"), err)
	}
	return nil
}

// runningFlux is the peer the flux step leaves running, and how to post
// events to it.
type runningFlux struct {
	peer *fluxPeer
	bin  string // the controller's
	post poster
}

// stopFlux stops the peer the flux step left running, if any.
func (b *bench) stopFlux() {
	if b.fluxRunning != nil {
		b.fluxRunning.peer.stop()
		b.fluxRunning = nil
	}
}

// fluxPeer is a running peer.
type fluxPeer struct {
	dir        string
	kubeConfig string
	eventsURL  string
	procs      []*peerProcess // the kube-apiserver, then the controller
	controller *peerProcess
}

type peerProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

func (p *peerProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (b *bench) fluxPeerBenchmarks(ctx context.Context) error {
	bin, err := filepath.Abs(b.fluxPeerBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("Flux's notification-controller is not built (hack/build-flux-peer.sh, run by make bench): %w", err)
	}
	p := &fluxPeer{dir: filepath.Join(b.localDir, "flux-peer")}
	// Left running on success, for the delivery step (see fluxAround).
	kept := false
	defer func() {
		if !kept {
			p.stop()
		}
	}()
	if err := p.start(ctx, b, bin); err != nil {
		return err
	}
	started := time.Now()
	r := b.results
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * b.posters}, Timeout: 30 * time.Second}
	post := func(ctx context.Context, run string, seq int) error {
		return postJSON(ctx, httpClient, p.eventsURL, fluxEvent(fluxNS, run, seq))
	}
	if err := b.warmFlux(ctx, p, post); err != nil {
		return err
	}
	pid := p.controller.cmd.Process.Pid
	time.Sleep(time.Until(started.Add(30 * time.Second)))
	if rss, err := statusMiBOf(pid, "VmRSS:"); err == nil {
		r.add("flux.rss idle (30 s after start)", "MiB", rss)
	}

	res := &fluxResult{}
	cpuBefore, _ := cpuSecondsOf(pid)
	burst, err := b.burstRun(ctx, "flux", b.events, post, false)
	if err != nil {
		return fmt.Errorf("burst through Flux's notification-controller: %w", err)
	}
	cpuAfter, _ := cpuSecondsOf(pid)
	res.rate, res.p50, res.p99 = burst.rate, burst.p50, burst.p99
	res.cpuPerEvent = (cpuAfter - cpuBefore) / float64(b.events) * 1e6
	res.cpuMachine, res.busy = burst.cpuMachine, burst.busy
	prefix := fmt.Sprintf("flux.delivery (%d events, %d posters)", b.events, b.posters)
	r.add(prefix+".rate", "events/s", res.rate)
	r.add(prefix+".p50 (post to sink)", "ms", res.p50)
	r.add(prefix+".p99", "ms", res.p99)
	r.add(prefix+".cpu per event (controller)", "µs", res.cpuPerEvent)
	r.add(prefix+".cpu per event (whole machine)", "µs", res.cpuMachine).
		note("every process and the kernel: the posters and the sink (%.0f µs), its kube-apiserver, our idle control plane", burst.cpuBench)
	r.add(prefix+".machine busy", "%", res.busy)
	r.add(prefix+".sink connections opened", "connections", float64(burst.connections))
	if burst.lost > 0 {
		r.add(prefix+".lost (accepted, never delivered)", "events", float64(burst.lost)).
			note("fire and forget: nothing is stored, a failed send is not retried")
	}

	steady := b.steadyPosts(ctx, fmt.Sprintf("fluxsteady%d", time.Now().UnixNano()), post)
	res.steadyP50, res.steadyP99 = percentile(steady.lat, 50), percentile(steady.lat, 99)
	prefix = fmt.Sprintf("flux.delivery steady (%d/s for %s)", b.rate, b.duration)
	r.add(prefix+".p50", "ms", res.steadyP50)
	r.add(prefix+".p99", "ms", res.steadyP99)

	if _, err := b.burstRun(ctx, "fluxburst", b.burst, post, false); err != nil {
		return fmt.Errorf("the %d-event burst through Flux's notification-controller: %w", b.burst, err)
	}
	time.Sleep(10 * time.Second)
	if res.rssBurst, err = statusMiBOf(pid, "VmRSS:"); err == nil {
		r.add(fmt.Sprintf("flux.rss 10 s after a %d-event burst", b.burst), "MiB", res.rssBurst)
	}
	b.flux = res
	// The controller keeps the connection of every notification open,
	// idle: after the steps above, over ten thousand, with as many in the
	// sink. Stopping it closes them; the delivery step starts a fresh one
	// (see fluxAround).
	p.stopController()
	b.fluxRunning, kept = &runningFlux{peer: p, bin: bin, post: post}, true
	return nil
}

// fluxAround measures the peer's rate again with a burst of n events just
// before ours and one just after, as a peer measured minutes earlier is
// not: the machine's speed drifts by tens of percent between steps. It
// returns both bursts' rates and, as the peer's, the rate of their events
// over their time together: 0 when the peer could not be measured, which
// is then in the results' errors. ours's error is err.
//
// The peer is measured as it was for its first burst: a fresh controller,
// on a machine without the sockets its step closed. Its step leaves it
// holding an idle connection per notification sent (over ten thousand),
// and with them, or with as many sockets in TIME_WAIT, its bursts went at
// 28–42% of its first one's rate.
func (b *bench) fluxAround(ctx context.Context, n int, ours func() error) (before, after, around float64, err error) {
	f := b.fluxRunning
	if f == nil {
		return 0, 0, 0, ours()
	}
	failed := func(what string, err error) {
		b.results.Errors = append(b.results.Errors, fmt.Sprintf("flux around the receiver's burst: %s: %v", what, err))
	}
	settleTimeWait(ctx, maxTimeWait, 100*time.Second)
	if err := f.peer.runController(f.bin); err != nil {
		failed("restarting Flux's notification-controller", err)
		return 0, 0, 0, ours()
	}
	if err := b.warmFlux(ctx, f.peer, f.post); err != nil {
		failed("warming it up", err)
		return 0, 0, 0, ours()
	}
	first, err := b.burstRun(ctx, "fluxbefore", n, f.post, false)
	if err != nil {
		failed("its burst before ours", err)
		return 0, 0, 0, ours()
	}
	if err := ours(); err != nil {
		return 0, 0, 0, err
	}
	second, err := b.burstRun(ctx, "fluxafter", n, f.post, false)
	if err != nil {
		failed("its burst after ours", err)
		return first.rate, 0, 0, nil
	}
	return first.rate, second.rate, aroundRate(n, first.rate, n, second.rate), nil
}

// maxTimeWait is how many sockets in TIME_WAIT settleTimeWait waits for.
const maxTimeWait = 1000

// settleTimeWait waits, up to limit, until fewer than max sockets of the
// machine are in TIME_WAIT.
func settleTimeWait(ctx context.Context, max int, limit time.Duration) {
	_ = wait.PollUntilContextTimeout(ctx, time.Second, limit, true, func(context.Context) (bool, error) {
		n, err := timeWaitSockets()
		return err != nil || n < max, nil
	})
}

// aroundRate is the rate of two bursts of n1 and n2 events at r1 and r2
// events/s, taken together: all their events over all their time.
func aroundRate(n1 int, r1 float64, n2 int, r2 float64) float64 {
	if r1 <= 0 || r2 <= 0 {
		return 0
	}
	return float64(n1+n2) / (float64(n1)/r1 + float64(n2)/r2)
}

// start runs the peer's kube-apiserver, installs Flux's CRDs with a generic
// Provider to the sink and an Alert for every Kustomization, then runs the
// controller.
func (p *fluxPeer) start(ctx context.Context, b *bench, bin string) error {
	if err := os.RemoveAll(p.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	env, err := readEnv(filepath.Join(b.localDir, "env"))
	if err != nil {
		return err
	}
	pki := filepath.Join(b.localDir, "pki")
	kubePort, err := freePort()
	if err != nil {
		return err
	}
	kubeBin, err := filepath.Abs(filepath.Join(filepath.Dir(bin), "kube-apiserver"))
	if err != nil {
		return err
	}
	if err := p.run(kubeBin, "kube-apiserver.log", nil,
		"--etcd-servers=http://127.0.0.1:"+env["ETCD_PORT"],
		// Its own keys, fresh for each run on the same control plane.
		fmt.Sprintf("--etcd-prefix=/bench-flux-peer/%d", time.Now().UnixNano()),
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kubePort),
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.97.0.0/16",
		"--tls-cert-file="+filepath.Join(pki, "apiserver.crt"), "--tls-private-key-file="+filepath.Join(pki, "apiserver.key"),
		"--client-ca-file="+filepath.Join(pki, "ca.crt"),
		"--authorization-mode=RBAC", "--anonymous-auth=false",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(pki, "sa.key"),
		"--profiling=false", "--v=1",
	); err != nil {
		return err
	}
	// The control plane's admin credentials, at the peer's kube-apiserver.
	admin := clientcmdapi.NewConfig()
	admin.Clusters["flux-peer"] = &clientcmdapi.Cluster{
		Server: fmt.Sprintf("https://127.0.0.1:%d", kubePort), CertificateAuthority: filepath.Join(pki, "ca.crt"),
	}
	admin.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificate: filepath.Join(pki, "admin.crt"), ClientKey: filepath.Join(pki, "admin.key"),
	}
	admin.Contexts["flux-peer"] = &clientcmdapi.Context{Cluster: "flux-peer", AuthInfo: "admin"}
	admin.CurrentContext = "flux-peer"
	p.kubeConfig = filepath.Join(p.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*admin, p.kubeConfig); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", p.kubeConfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := crds.List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("the peer's kube-apiserver never served (log: %s): %w", filepath.Join(p.dir, "kube-apiserver.log"), err)
	}
	files, err := filepath.Glob(bin + ".crds/*.yaml")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs of Flux's notification-controller in %s.crds", bin)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		crd := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &crd.Object); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s: %w", crd.GetName(), err)
		}
		if err := waitEstablished(ctx, crds, crd.GetName()); err != nil {
			return fmt.Errorf("%s: %w", crd.GetName(), err)
		}
	}
	for _, obj := range []map[string]any{
		{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": fluxNS}},
		{
			"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
			"metadata": map[string]any{"name": "sink", "namespace": fluxNS},
			"spec":     map[string]any{"type": "generic", "address": b.sink.URL + "/flux"},
		},
		{
			"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
			"metadata": map[string]any{"name": "all", "namespace": fluxNS},
			"spec": map[string]any{
				"providerRef":   map[string]any{"name": "sink"},
				"eventSeverity": "info",
				"eventSources":  []any{map[string]any{"kind": "Kustomization", "name": "*"}},
			},
		},
	} {
		u := &unstructured.Unstructured{Object: obj}
		gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if u.GetKind() != "Namespace" {
			gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
			if err != nil {
				return err
			}
			ri = dyn.Resource(gv.WithResource(strings.ToLower(u.GetKind()) + "s")).Namespace(fluxNS)
		}
		if _, err := ri.Create(ctx, u, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}

	return p.runController(bin)
}

// runController starts the controller, on a new events address.
func (p *fluxPeer) runController(bin string) error {
	eventsPort, err := freePort()
	if err != nil {
		return err
	}
	p.eventsURL = fmt.Sprintf("http://127.0.0.1:%d/", eventsPort)
	// Its client reads the kubeconfig from $KUBECONFIG only.
	if err := p.run(bin, "controller.log", []string{"KUBECONFIG=" + p.kubeConfig},
		"--events-addr="+fmt.Sprintf("127.0.0.1:%d", eventsPort),
		"--metrics-addr=127.0.0.1:0", "--health-addr=127.0.0.1:0", "--receiverAddr=127.0.0.1:0",
		"--enable-leader-election=false", "--log-level=error",
	); err != nil {
		return err
	}
	p.controller = p.procs[len(p.procs)-1]
	return nil
}

// stopController stops the controller and leaves its kube-apiserver up.
func (p *fluxPeer) stopController() {
	if p.controller == nil {
		return
	}
	p.stopProcess(p.controller)
	for i, proc := range p.procs {
		if proc == p.controller {
			p.procs = append(p.procs[:i], p.procs[i+1:]...)
			break
		}
	}
	p.controller = nil
}

// run starts a process of the peer with env added to the bench's, its
// output in the peer's directory.
func (p *fluxPeer) run(bin, log string, env []string, args ...string) error {
	out, err := os.Create(filepath.Join(p.dir, log))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("starting %s: %w", filepath.Base(bin), err)
	}
	proc := &peerProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(proc.done)
	}()
	p.procs = append(p.procs, proc)
	return nil
}

// stop ends the peer's processes, the controller first.
func (p *fluxPeer) stop() {
	for i := len(p.procs) - 1; i >= 0; i-- {
		p.stopProcess(p.procs[i])
	}
	p.procs, p.controller = nil, nil
}

func (p *fluxPeer) stopProcess(proc *peerProcess) {
	_ = proc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-proc.done:
	case <-time.After(30 * time.Second):
		_ = proc.cmd.Process.Kill()
		<-proc.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
