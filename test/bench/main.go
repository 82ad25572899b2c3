// Command bench measures notification-apiserver on a running local control
// plane (hack/local-up.sh) side by side with its peers in the same run: a
// CustomResourceDefinition of the same schema in the same kube-apiserver,
// and a plain Go client posting straight to the same sink. It prints a
// table and writes every number to a JSON file. `make bench` runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

// bench holds the clients and what was measured.
type bench struct {
	localDir string
	// paths are the delivery step's paths to measure (-paths).
	paths       []string
	config      *rest.Config
	client      versioned.Interface
	kube        kubernetes.Interface
	dynamic     dynamic.Interface
	receiverURL string
	serverURL   string // notification-apiserver, called directly

	scale    int // objects for the API write/list benchmarks
	events   int // events for the delivery burst
	posters  int
	rate     int           // events/s of the steady run
	duration time.Duration // of the steady run
	big      int           // Providers and Alerts of the scale run
	burst    int           // events of the memory burst

	profileDir string // CPU profiles of the server go here

	crdCreateRate float64 // of this run's api step, the peer of delivery through the API

	fluxPeerBin string      // Flux's notification-controller (hack/build-flux-peer.sh)
	flux        *fluxResult // what it measured in this run's flux step
	// fluxRunning is the flux step's peer, left running for the delivery
	// step to measure it again around our receiver's burst; nil once
	// stopped.
	fluxRunning *runningFlux

	results *Results
	sink    *sink
}

func main() {
	b := &bench{results: newResults()}
	out := flag.String("out", ".local/bench/results.json", "where to write the results")
	flag.StringVar(&b.localDir, "local-dir", ".local/bench/cp", "the state directory of the running local control plane")
	flag.IntVar(&b.scale, "objects", 2000, "Providers created for the API benchmarks")
	flag.IntVar(&b.events, "events", 2000, "events of the delivery burst")
	flag.IntVar(&b.posters, "posters", 8, "concurrent clients")
	flag.IntVar(&b.rate, "rate", 50, "events/s of the steady delivery run")
	flag.DurationVar(&b.duration, "duration", 30*time.Second, "length of the steady delivery run")
	flag.IntVar(&b.big, "big", 10000, "Providers and Alerts of the scale run")
	flag.IntVar(&b.burst, "burst", 10000, "events of the memory burst")
	flag.StringVar(&b.profileDir, "profile-dir", "", "write CPU profiles of the server during the delivery bursts here (needs --profiling)")
	flag.StringVar(&b.fluxPeerBin, "flux-peer", "bin/flux-notification-controller", "Flux's notification-controller, the peer of the flux step")
	paths := flag.String("paths", "receiver,api", "the delivery step's paths: receiver, api")
	only := flag.String("only", "", "comma-separated steps to run (default all): gobench,api,flux,delivery,steady,fanout,burst,scale")
	flag.Parse()
	b.paths = strings.Split(*paths, ",")

	if err := b.setup(); err != nil {
		fail(err)
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"gobench", b.goBenchmarks},
		{"api", b.apiBenchmarks},
		{"flux", b.fluxPeerBenchmarks},
		{"delivery", b.deliveryBenchmarks},
		{"steady", b.steadyBenchmark},
		{"fanout", b.fanOut},
		{"burst", b.burstMemory},
		{"scale", b.scaleBenchmarks},
	}
	ctx := context.Background()
	b.results.Started = time.Now().UTC()
	for _, s := range steps {
		if *only != "" && !contains(strings.Split(*only, ","), s.name) {
			continue
		}
		// Flux's peer runs on from its step only into the delivery step.
		if s.name != "delivery" {
			b.stopFlux()
		}
		fmt.Fprintf(os.Stderr, ">> %s\n", s.name)
		start := time.Now()
		if err := s.run(ctx); err != nil {
			b.results.Errors = append(b.results.Errors, fmt.Sprintf("%s: %v", s.name, err))
			fmt.Fprintf(os.Stderr, "!! %s: %v\n", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "   %s took %s\n", s.name, time.Since(start).Round(time.Second))
	}
	b.stopFlux()
	b.results.Finished = time.Now().UTC()
	b.results.evaluate()
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fail(err)
	}
	data, err := json.MarshalIndent(b.results, "", "  ")
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fail(err)
	}
	b.results.print(os.Stdout)
	fmt.Printf("\nresults: %s\n", *out)
	if len(b.results.Errors) > 0 {
		os.Exit(1)
	}
}

func (b *bench) setup() error {
	kubeconfig := filepath.Join(b.localDir, "kubeconfig")
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("the local control plane's kubeconfig: %w (is `make up` running with LOCAL_DIR=%s?)", err, b.localDir)
	}
	config.QPS, config.Burst = -1, 0 // no client-side throttling
	config.UserAgent = "notification-bench"
	b.config = config
	if b.client, err = versioned.NewForConfig(config); err != nil {
		return err
	}
	if b.kube, err = kubernetes.NewForConfig(config); err != nil {
		return err
	}
	if b.dynamic, err = dynamic.NewForConfig(config); err != nil {
		return err
	}
	env, err := readEnv(filepath.Join(b.localDir, "env"))
	if err != nil {
		return err
	}
	b.receiverURL = env["RECEIVER_URL"]
	b.serverURL = "https://127.0.0.1:" + env["NOTIFICATION_PORT"]
	if b.sink, err = startSink(); err != nil {
		return err
	}
	// Just up, then idle: the control plane is up and nothing else
	// happened for 30 s (the kube-apiserver has fetched our OpenAPI, the
	// controller manager has discovered us, the GC has returned the
	// start-up's garbage).
	rss, err := b.rssMiB("notification-apiserver")
	if err != nil {
		return err
	}
	b.results.add("startup.rss (just up)", "MiB", rss)
	idle := time.Now().Add(30 * time.Second)
	// Meanwhile, the floor of a durable write here, with the control
	// plane's own background writes going on as during the steps.
	syncs, err := b.diskSyncs(25*time.Second, b.rate)
	if err != nil {
		return err
	}
	probe := fmt.Sprintf("disk.fdatasync of a 1 KiB append (%d/s, beside etcd's data)", b.rate)
	b.results.add(probe+".p50", "ms", percentile(syncs, 50))
	b.results.add(probe+".p99", "ms", percentile(syncs, 99)).note("the floor of a durable write: an etcd transaction waits for one; measured while the control plane idles")
	b.results.add(probe+".max", "ms", percentile(syncs, 100))
	time.Sleep(time.Until(idle))
	if rss, err = b.rssMiB("notification-apiserver"); err != nil {
		return err
	}
	b.results.add("idle.rss (server with embedded etcd, 30 s after start)", "MiB", rss).atMost("< 100 MiB", 100)
	if anon, err := b.anonMiB("notification-apiserver"); err == nil {
		b.results.add("idle.rss anonymous (without file pages)", "MiB", anon)
	}
	return nil
}

func readEnv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}
