package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

const (
	group      = "notification.toolkit.fluxcd.io"
	crdGroup   = "bench.notification.toolkit.fluxcd.io"
	apiNS      = "bench-api"
	apiProtoNS = "bench-api-protobuf"
	crdNS      = "bench-crd"
)

var crdResource = schema.GroupVersionResource{Group: crdGroup, Version: "v1beta2", Resource: "providers"}

func (b *bench) apiBenchmarks(ctx context.Context) error {
	for _, ns := range []string{apiNS, apiProtoNS, crdNS} {
		if err := b.namespace(ctx, ns); err != nil {
			return err
		}
		// The Secret the Providers reference, as a user's would be there:
		// without it each Provider is retried, with a status write and a
		// Kubernetes Event each time, while the creates are measured.
		if err := b.secret(ctx, ns, benchProviderSecret, map[string]string{"token": "bench-token"}); err != nil {
			return err
		}
	}
	if err := b.createCRD(ctx); err != nil {
		return fmt.Errorf("the CRD peer: %w", err)
	}

	// The same in protobuf, which a CRD cannot speak.
	protoConfig := rest.CopyConfig(b.config)
	protoConfig.ContentType = "application/vnd.kubernetes.protobuf"
	protoClient, err := versioned.NewForConfig(protoConfig)
	if err != nil {
		return err
	}
	// Writes: the same objects, ours through the aggregation layer (JSON,
	// then protobuf) and the CRD's in the kube-apiserver itself, in rounds
	// that take turns going first, so that none gets a warmer or a quieter
	// machine: its speed drifts by tens of percent within minutes here.
	paths := []struct {
		name   string
		call   func(ctx context.Context, i int) error
		remove func(ctx context.Context, i int) error
		got    *timings
		// cpu is what the machine and each process spent on the
		// measured creates.
		cpu cpuSnapshot
	}{
		{"Providers", func(ctx context.Context, i int) error {
			_, err := b.client.NotificationV1beta2().Providers(apiNS).Create(ctx, benchProvider(i), metav1.CreateOptions{})
			return err
		}, func(ctx context.Context, i int) error {
			return b.client.NotificationV1beta2().Providers(apiNS).Delete(ctx, providerName(i), metav1.DeleteOptions{})
		}, &timings{}, cpuSnapshot{}},
		{"Providers in protobuf", func(ctx context.Context, i int) error {
			_, err := protoClient.NotificationV1beta2().Providers(apiProtoNS).Create(ctx, benchProvider(i), metav1.CreateOptions{})
			return err
		}, func(ctx context.Context, i int) error {
			return protoClient.NotificationV1beta2().Providers(apiProtoNS).Delete(ctx, providerName(i), metav1.DeleteOptions{})
		}, &timings{}, cpuSnapshot{}},
		{"CRD Providers", func(ctx context.Context, i int) error {
			u, err := toUnstructured(benchProvider(i))
			if err != nil {
				return err
			}
			_, err = b.dynamic.Resource(crdResource).Namespace(crdNS).Create(ctx, u, metav1.CreateOptions{})
			return err
		}, func(ctx context.Context, i int) error {
			return b.dynamic.Resource(crdResource).Namespace(crdNS).Delete(ctx, providerName(i), metav1.DeleteOptions{})
		}, &timings{}, cpuSnapshot{}},
	}
	// Each path warmed first, then cleared of what that made: a new CRD's
	// first creates wait while the kube-apiserver builds its storage and
	// schema (up to 2 s for the first clients, in some runs only), a
	// one-off that is no part of the create rate of either peer.
	warm := 2 * b.posters
	for _, path := range paths {
		if _, err := b.createMany(warm, b.posters, func(ctx context.Context, i int) error { return path.call(ctx, b.scale+i) }); err != nil {
			return fmt.Errorf("warming %s: %w", path.name, err)
		}
		for i := range warm {
			if err := path.remove(ctx, b.scale+i); err != nil {
				return fmt.Errorf("removing the warm-up of %s: %w", path.name, err)
			}
		}
	}
	const rounds = 4
	for round := range rounds {
		first, n := round*b.scale/rounds, (round+1)*b.scale/rounds-round*b.scale/rounds
		for k := range paths {
			path := &paths[(round+k)%len(paths)]
			before := b.cpu()
			t, err := b.createMany(n, b.posters, func(ctx context.Context, i int) error { return path.call(ctx, first+i) })
			if err != nil {
				return fmt.Errorf("creating %s: %w", path.name, err)
			}
			path.cpu.addSince(b.cpu(), before)
			path.got.add(t)
		}
	}
	ours, oursProto, crd := *paths[0].got, *paths[1].got, *paths[2].got
	r := b.results
	b.crdCreateRate = crd.rate()
	// Our etcd syncs each write to disk; the CRD's must too, or its creates
	// never wait for the disk and ours do.
	syncs := "the CRD's etcd syncs its log to disk, as ours does"
	if ok, err := b.kubeEtcdSyncs(); err != nil || !ok {
		syncs = "the CRD's etcd does NOT sync its log to disk (start the control plane with ETCD_FSYNC=1): its creates never wait for the disk, ours do"
		fmt.Fprintln(os.Stderr, "!! "+syncs)
	}
	r.add("api.create.rate (aggregated)", "objects/s", ours.rate()).
		versus("CRD", crd.rate()).ratioAtLeast("≥ 1.0 × CRD", 1.0).note("%s", syncs)
	r.add("api.create.rate (aggregated, protobuf)", "objects/s", oursProto.rate()).
		versus("CRD", crd.rate()).ratioAtLeast("≥ 1.0 × CRD", 1.0).note("%s", syncs)
	r.add("api.create.p50 (aggregated)", "ms", ours.p(50)).versus("CRD", crd.p(50))
	r.add("api.create.p99 (aggregated)", "ms", ours.p(99)).versus("CRD", crd.p(99))
	// The slowest create: a rate far below what the p50 and the clients
	// allow is a few stalls, which the rates above count in.
	r.add("api.create.max (aggregated)", "ms", ours.p(100)).versus("CRD", crd.p(100))
	r.add("api.create.time in creates over 100 ms (aggregated)", "ms", ours.over(100*time.Millisecond)).versus("CRD", crd.over(100*time.Millisecond))
	// What a create costs: with the machine's processors busy, the rate is
	// what they can do.
	perCreate := func(s cpuSnapshot, names ...string) float64 {
		return s.since(cpuSnapshot{}, names...) / float64(b.scale) * 1e6
	}
	oursCPU, crdCPU := paths[0].cpu, paths[2].cpu
	r.add("api.create.cpu per create (whole machine)", "µs", perCreate(oursCPU, machineBusy)).
		versus("CRD", perCreate(crdCPU, machineBusy)).
		note("kube-apiserver %.0f, notification-apiserver %.0f, etcd %.0f, the clients %.0f; the CRD's: kube-apiserver %.0f, etcd %.0f, the clients %.0f",
			perCreate(oursCPU, "kube-apiserver"), perCreate(oursCPU, "notification-apiserver"), perCreate(oursCPU, "etcd"), perCreate(oursCPU, benchCPU),
			perCreate(crdCPU, "kube-apiserver"), perCreate(crdCPU, "etcd"), perCreate(crdCPU, benchCPU))
	r.add("api.create.machine busy (aggregated)", "%", oursCPU.busyShare(cpuSnapshot{})).versus("CRD", crdCPU.busyShare(cpuSnapshot{}))

	// Reads: one LIST of all of them.
	base := "/apis/" + group + "/v1beta2/namespaces/" + apiNS + "/providers"
	crdBase := "/apis/" + crdGroup + "/v1beta2/namespaces/" + crdNS + "/providers"
	crdJSON, err := b.list(ctx, crdBase, "application/json", b.scale)
	if err != nil {
		return fmt.Errorf("CRD LIST: %w", err)
	}
	ourJSON, err := b.list(ctx, base, "application/json", b.scale)
	if err != nil {
		return fmt.Errorf("LIST: %w", err)
	}
	r.add("api.list.json.time", "ms", ourJSON.ms).versus("CRD JSON", crdJSON.ms)
	r.add("api.list.json.bytes", "bytes", float64(ourJSON.bytes)).versus("CRD JSON", float64(crdJSON.bytes))
	ourProto, err := b.list(ctx, base, "application/vnd.kubernetes.protobuf", b.scale)
	switch {
	case err != nil:
		r.Errors = append(r.Errors, fmt.Sprintf("api: protobuf LIST: %v", err))
	case !ourProto.protobuf:
		m := r.add("api.list.protobuf.time", "ms", ourProto.ms).versus("CRD JSON", crdJSON.ms)
		m.note("protobuf is not served: the answer was %s", ourProto.contentType)
		met := false
		m.Target, m.Met = "≤ 0.5 × CRD JSON", &met
	default:
		m := r.add("api.list.protobuf.time", "ms", ourProto.ms).versus("CRD JSON", crdJSON.ms)
		met := m.Ratio != nil && *m.Ratio <= 0.5
		m.Target, m.Met = "≤ 0.5 × CRD JSON", &met
		r.add("api.list.protobuf.bytes", "bytes", float64(ourProto.bytes)).versus("CRD JSON", float64(crdJSON.bytes))
	}

	// Watch: time until a change reached all 50 watchers.
	ourWatch, err := b.watchFanOut(ctx, 50, 10,
		func(ctx context.Context) (watch.Interface, error) {
			return b.client.NotificationV1beta2().Providers(apiNS).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + providerName(0)})
		},
		func(ctx context.Context, patch []byte) error {
			_, err := b.client.NotificationV1beta2().Providers(apiNS).Patch(ctx, providerName(0), types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	crdWatch, err := b.watchFanOut(ctx, 50, 10,
		func(ctx context.Context) (watch.Interface, error) {
			return b.dynamic.Resource(crdResource).Namespace(crdNS).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + providerName(0)})
		},
		func(ctx context.Context, patch []byte) error {
			_, err := b.dynamic.Resource(crdResource).Namespace(crdNS).Patch(ctx, providerName(0), types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
	if err != nil {
		return fmt.Errorf("CRD watch: %w", err)
	}
	r.add("api.watch.50.p50 (change to all 50 watchers)", "ms", percentile(ourWatch, 50)).versus("CRD", percentile(crdWatch, 50))
	r.add("api.watch.50.max", "ms", percentile(ourWatch, 100)).versus("CRD", percentile(crdWatch, 100))

	// Status: time for a new Provider to be Ready.
	var ready []time.Duration
	for i := range 20 {
		d, err := b.providerReady(ctx, fmt.Sprintf("ready-%d", i))
		if err != nil {
			return fmt.Errorf("Provider readiness: %w", err)
		}
		ready = append(ready, d)
	}
	r.add("api.provider.ready.p50 (create to Ready=True)", "ms", percentile(ready, 50))
	r.add("api.provider.ready.max", "ms", percentile(ready, 100))
	return nil
}

func providerName(i int) string { return fmt.Sprintf("p-%05d", i) }

func benchProvider(i int) *v1beta2.Provider {
	return &v1beta2.Provider{
		TypeMeta:   metav1.TypeMeta{APIVersion: group + "/v1beta2", Kind: "Provider"},
		ObjectMeta: metav1.ObjectMeta{Name: providerName(i), Labels: map[string]string{"app.kubernetes.io/part-of": "bench"}},
		Spec: v1beta2.ProviderSpec{
			Type:      "slack",
			Channel:   "general",
			Address:   "https://slack.com/api/chat.postMessage",
			SecretRef: &v1beta2.LocalObjectReference{Name: benchProviderSecret},
			Timeout:   &metav1.Duration{Duration: 20 * time.Second},
		},
	}
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	u.SetAPIVersion(crdGroup + "/v1beta2")
	return u, nil
}

// benchProviderSecret is the Secret of the benchmark's Providers.
const benchProviderSecret = "slack-token"

// secret creates or replaces a Secret.
func (b *bench) secret(ctx context.Context, ns, name string, data map[string]string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	_, err := b.kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = b.kube.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{})
	}
	return err
}

func (b *bench) namespace(ctx context.Context, name string) error {
	_, err := b.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// timings of a run of requests.
type timings struct {
	latencies []time.Duration
	elapsed   time.Duration
}

func (t timings) rate() float64 { return float64(len(t.latencies)) / t.elapsed.Seconds() }

// add counts the requests and time of another run in t.
func (t *timings) add(o timings) {
	t.latencies = append(t.latencies, o.latencies...)
	t.elapsed += o.elapsed
}
func (t timings) p(q float64) float64 { return percentile(t.latencies, q) }

// over is the time, in ms, spent in calls that took longer than d.
func (t timings) over(d time.Duration) float64 {
	var sum time.Duration
	for _, l := range t.latencies {
		if l > d {
			sum += l
		}
	}
	return float64(sum) / float64(time.Millisecond)
}

// createMany runs n calls with c concurrent clients.
func (b *bench) createMany(n, c int, call func(context.Context, int) error) (timings, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := call(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return timings{latencies: lat, elapsed: time.Since(start)}, firstErr
}

type listResult struct {
	ms          float64
	bytes       int
	contentType string
	protobuf    bool
}

// list GETs path five times in the given encoding; the median time counts.
func (b *bench) list(ctx context.Context, path, accept string, want int) (listResult, error) {
	client, err := rest.HTTPClientFor(b.config)
	if err != nil {
		return listResult{}, err
	}
	var times []time.Duration
	var res listResult
	for range 6 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(b.config.Host, "/")+path, nil)
		if err != nil {
			return res, err
		}
		req.Header.Set("Accept", accept)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return res, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil {
			return res, err
		}
		if resp.StatusCode != http.StatusOK {
			return res, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		res.bytes, res.contentType = len(body), resp.Header.Get("Content-Type")
		res.protobuf = strings.HasPrefix(res.contentType, "application/vnd.kubernetes.protobuf")
		if !res.protobuf {
			var list struct {
				Items []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				return res, err
			}
			if len(list.Items) != want {
				return res, fmt.Errorf("LIST %s: %d items, want %d", path, len(list.Items), want)
			}
		}
		times = append(times, d)
	}
	times = times[1:] // the first warms connections
	res.ms = percentile(times, 50)
	return res, nil
}

// watchFanOut opens n watches, then changes the watched object rounds
// times: each round's time is until the last watcher saw the change.
func (b *bench) watchFanOut(ctx context.Context, n, rounds int, open func(context.Context) (watch.Interface, error), change func(context.Context, []byte) error) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := make(chan string, n*rounds*4)
	for range n {
		w, err := open(ctx)
		if err != nil {
			return nil, err
		}
		go func() {
			defer w.Stop()
			for ev := range w.ResultChan() {
				if ev.Type != watch.Modified {
					continue
				}
				if m, ok := ev.Object.(metav1.Object); ok {
					if mark := m.GetLabels()["bench-mark"]; mark != "" {
						seen <- mark
					}
				}
			}
		}()
	}
	time.Sleep(time.Second) // the watches are established
	var out []time.Duration
	for round := range rounds {
		mark := fmt.Sprintf("m%d-%d", time.Now().UnixNano(), round)
		t0 := time.Now()
		if err := change(ctx, []byte(`{"metadata":{"labels":{"bench-mark":"`+mark+`"}}}`)); err != nil {
			return nil, err
		}
		got := 0
		timeout := time.After(30 * time.Second)
		for got < n {
			select {
			case m := <-seen:
				if m == mark {
					got++
				}
			case <-timeout:
				return nil, fmt.Errorf("only %d of %d watchers saw the change", got, n)
			}
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}

// providerReady creates a Provider and times it until Ready=True.
func (b *bench) providerReady(ctx context.Context, name string) (time.Duration, error) {
	p := benchProvider(0)
	p.Name = name
	p.Spec.Type, p.Spec.Address, p.Spec.SecretRef = "generic", b.sink.URL+"/ready", nil
	providers := b.client.NotificationV1beta2().Providers(apiNS)
	w, err := providers.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	t0 := time.Now()
	if _, err := providers.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("the watch of %s ended", name)
			}
			if got, ok := ev.Object.(*v1beta2.Provider); ok && ready(got.Status.Conditions, got.Generation) {
				return time.Since(t0), nil
			}
		case <-timeout:
			return 0, fmt.Errorf("Provider %s not Ready after 30s", name)
		}
	}
}

func ready(conditions []metav1.Condition, generation int64) bool {
	for _, c := range conditions {
		if c.Type == "Ready" && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation {
			return true
		}
	}
	return false
}

// createCRD serves our Provider's schema, taken from our OpenAPI v3, as a
// CustomResourceDefinition: Flux's way of serving the API.
func (b *bench) createCRD(ctx context.Context) error {
	raw, err := b.kube.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/" + group + "/v1beta2").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("reading our OpenAPI: %w", err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	var providerKey string
	for k := range doc.Components.Schemas {
		if strings.HasSuffix(k, ".v1beta2.Provider") {
			providerKey = k
		}
	}
	if providerKey == "" {
		return fmt.Errorf("no Provider schema in our OpenAPI")
	}
	schemaProps := structural(doc.Components.Schemas, doc.Components.Schemas[providerKey], 0)
	props := schemaProps["properties"].(map[string]any)
	props["metadata"] = map[string]any{"type": "object"}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "providers." + crdGroup},
		"spec": map[string]any{
			"group": crdGroup,
			"scope": "Namespaced",
			"names": map[string]any{"plural": "providers", "singular": "provider", "kind": "Provider", "listKind": "ProviderList"},
			"versions": []any{map[string]any{
				"name": "v1beta2", "served": true, "storage": true,
				"schema":       map[string]any{"openAPIV3Schema": schemaProps},
				"subresources": map[string]any{"status": map[string]any{}},
			}},
		},
	}}
	crds := b.dynamic.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return waitEstablished(ctx, crds, "providers."+crdGroup)
}

// waitEstablished waits until the CustomResourceDefinition name serves.
func waitEstablished(ctx context.Context, crds dynamic.ResourceInterface, name string) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conditions {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

// schemaKeys are the OpenAPI keys a CRD's structural schema takes.
var schemaKeys = map[string]bool{
	"type": true, "format": true, "description": true, "properties": true, "items": true, "required": true,
	"additionalProperties": true, "default": true, "enum": true, "maxLength": true, "minLength": true,
	"pattern": true, "maximum": true, "minimum": true, "maxItems": true, "minItems": true, "nullable": true,
	"x-kubernetes-list-type": true, "x-kubernetes-list-map-keys": true, "x-kubernetes-map-type": true,
	"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true,
}

// structural inlines references and keeps what a CRD schema allows.
func structural(all map[string]map[string]any, s map[string]any, depth int) map[string]any {
	if depth > 20 {
		return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
	}
	out := map[string]any{}
	resolve := func(ref string) map[string]any {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if strings.HasSuffix(name, ".ObjectMeta") {
			return map[string]any{"type": "object"}
		}
		return structural(all, all[name], depth+1)
	}
	if ref, ok := s["$ref"].(string); ok {
		for k, v := range resolve(ref) {
			out[k] = v
		}
	}
	if allOf, ok := s["allOf"].([]any); ok {
		for _, sub := range allOf {
			if m, ok := sub.(map[string]any); ok {
				for k, v := range structural(all, m, depth+1) {
					out[k] = v
				}
			}
		}
	}
	for k, v := range s {
		if !schemaKeys[k] {
			continue
		}
		switch k {
		case "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = structural(all, p.(map[string]any), depth+1)
			}
			out[k] = props
		case "items", "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				out[k] = structural(all, m, depth+1)
			} else {
				out[k] = v
			}
		case "default":
			// An object's default is checked against its whole schema
			// in a CRD; scalars' defaults are enough here.
			if _, isObject := v.(map[string]any); !isObject {
				out[k] = v
			}
		default:
			out[k] = v
		}
	}
	if _, ok := out["type"]; !ok {
		if _, hasProps := out["properties"]; hasProps {
			out["type"] = "object"
		}
	}
	// Keys with one required member stay sorted for a stable schema.
	if req, ok := out["required"].([]any); ok {
		sort.Slice(req, func(i, j int) bool { return fmt.Sprint(req[i]) < fmt.Sprint(req[j]) })
	}
	return out
}
