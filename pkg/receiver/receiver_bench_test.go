package receiver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
)

// BenchmarkReceiver measures what the receiver costs per event as `make
// bench` drives it: concurrent keep-alive posters, each posting distinct
// Flux events one after the other, to the receiver's HTTP server, which
// stores them in EventBatches (protobuf over TLS, with the client as the
// command configures it) in a stand-in of the API that answers 201 per
// item.
//
// Everything runs in this process, so ns/op, cpu-ns/op (the process's CPU
// time per event, user and system), B/op and allocs/op include the posters
// and the API stand-in. Both are kept cheap (the posters write prepared
// bytes on raw connections; the stand-in uses the generated protobuf code),
// and their goroutines carry a pprof label "part" (poster, receiver, api),
// which the goroutines they start inherit. The receiver's own share is read
// from a CPU profile:
//
//	go test ./pkg/receiver -run '^$' -bench Receiver/posters=8/api=2ms -cpuprofile cpu.out
//	go tool pprof -tags cpu.out            # CPU by part
//	go tool pprof -tagfocus part=receiver -top cpu.out
//
// Samples without a label are the runtime's own (GC background marking,
// scheduler), mostly on behalf of the receiver, which allocates the most.
//
// The stand-in answers after a fixed delay, whatever the batch: unlike the
// real server, it spends no more CPU per request than per event, so it
// shows what a batch costs the receiver, not what it costs the server.
// events/batch is how many events each request carried.
func BenchmarkReceiver(b *testing.B) {
	for _, bc := range []struct {
		name    string
		posters int
		latency time.Duration
	}{
		// As in `make bench`, where the server takes milliseconds to commit
		// a batch: the receiver is idle between events, and each wakes it.
		{"posters=8/api=2ms", 8, 2 * time.Millisecond},
		// The receiver busy all the time: what it costs at its most.
		{"posters=8/api=instant", 8, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchmarkReceiver(b, bc.posters, bc.latency)
		})
	}
}

const benchNamespace = "bench"

func benchmarkReceiver(b *testing.B, posters int, apiLatency time.Duration) {
	api := &apiStandIn{latency: apiLatency}
	client := benchClient(b, api.start(b))
	h := &Handler{Client: client, MaxBatch: 100, BatchGather: DefaultBatchGather}
	addr := serveLabeled(b, "receiver", NewServer("", h))

	var next atomic.Int64
	var wg sync.WaitGroup
	post := func(p *poster) {
		defer wg.Done()
		for {
			seq := next.Add(1)
			if seq > int64(b.N) {
				return
			}
			if err := p.post(seq); err != nil {
				b.Error(err)
				return
			}
		}
	}
	conns := make([]*poster, posters)
	for i := range conns {
		conns[i] = dialPoster(b, addr)
		// A first event each opens the connections and the API's, as a
		// warmed-up sender would have.
		if err := conns[i].post(-int64(i) - 1); err != nil {
			b.Fatal(err)
		}
	}

	cpu, batchesBefore := processCPU(), api.batches.Load()
	b.ReportAllocs()
	b.ResetTimer()
	pprof.Do(context.Background(), pprof.Labels("part", "poster"), func(context.Context) {
		for _, p := range conns {
			wg.Add(1)
			go post(p)
		}
		wg.Wait()
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/float64(api.batches.Load()-batchesBefore), "events/batch")
}

// poster posts Flux events on one keep-alive connection, as a Flux
// controller's HTTP client does, writing prepared bytes so that it costs
// next to nothing beside the receiver.
type poster struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func dialPoster(b *testing.B, addr string) *poster {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return &poster{conn: conn, r: bufio.NewReader(conn)}
}

// benchEvent is what kustomize-controller posts (as test/bench does); the
// message is made distinct per event, so that none is a duplicate.
const benchEvent = `{"involvedObject":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","name":"app",` +
	`"namespace":"` + benchNamespace + `","uid":"8c7e1c3e-0f43-4b0e-9a38-5d1f0c2a9b11"},"message":"bench run1 MESSAGE",` +
	`"metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:0123456789abcdef0123456789abcdef01234567"},` +
	`"reason":"ReconciliationSucceeded","reportingController":"kustomize-controller",` +
	`"reportingInstance":"kustomize-controller-7c9f8d6b5-x2x4q","severity":"info","timestamp":"2025-01-02T03:04:05Z"}`

var benchEventHead, benchEventTail, _ = strings.Cut(benchEvent, "MESSAGE")

// post sends the event numbered seq and checks that it was accepted.
func (p *poster) post(seq int64) error {
	num := strconv.AppendInt(nil, seq, 10)
	p.buf = p.buf[:0]
	p.buf = append(p.buf, "POST / HTTP/1.1\r\nHost: receiver\r\nUser-Agent: Go-http-client/1.1\r\n"+
		"Content-Type: application/json\r\nAccept-Encoding: gzip\r\nContent-Length: "...)
	p.buf = strconv.AppendInt(p.buf, int64(len(benchEventHead)+len(num)+len(benchEventTail)), 10)
	p.buf = append(p.buf, "\r\n\r\n"...)
	p.buf = append(p.buf, benchEventHead...)
	p.buf = append(p.buf, num...)
	p.buf = append(p.buf, benchEventTail...)
	if _, err := p.conn.Write(p.buf); err != nil {
		return err
	}
	return p.readResponse()
}

// readResponse reads one response, wanting a 202.
func (p *poster) readResponse() error {
	status, err := p.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 202 ")) {
		return fmt.Errorf("the receiver answered %q", bytes.TrimSpace(status))
	}
	length := 0
	for {
		line, err := p.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(name), "Content-Length") {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(value)))
		}
	}
	_, err = p.r.Discard(length)
	return err
}

// serveLabeled serves srv on a free loopback port, its goroutines labeled
// with part, and returns the address.
func serveLabeled(b *testing.B, part string, srv *http.Server) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	pprof.Do(context.Background(), pprof.Labels("part", part), func(context.Context) {
		go func() { _ = srv.Serve(l) }()
	})
	b.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// apiStandIn stands in for notification-apiserver's EventBatch create,
// over TLS as the real server serves it, in HTTP/2 or HTTP/1.1 as the
// client asks.
type apiStandIn struct {
	// latency is how long the stand-in takes to answer, as the real server
	// takes to commit a batch.
	latency time.Duration
	// batches counts the EventBatches it was sent.
	batches atomic.Int64
}

func (a *apiStandIn) start(b *testing.B) *httptest.Server {
	srv := httptest.NewUnstartedServer(a)
	srv.EnableHTTP2 = true
	pprof.Do(context.Background(), pprof.Labels("part", "api"), func(context.Context) {
		srv.StartTLS()
	})
	b.Cleanup(srv.Close)
	return srv
}

// benchClient is the receiver's client of api, configured as the receiver
// command configures it.
func benchClient(b *testing.B, api *httptest.Server) versioned.Interface {
	cfg := &rest.Config{
		Host:            api.URL,
		BearerToken:     "a-service-account-token",
		TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})},
	}
	ConfigureClient(cfg, 0, 0)
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return client
}

// ServeHTTP answers an EventBatch create as the server does when every
// item is created: 201 and one result per item.
func (a *apiStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(a.latency)
	if r.Method != http.MethodPost || r.URL.Path != "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/"+benchNamespace+"/eventbatches" {
		http.Error(w, "not an EventBatch create", http.StatusNotFound)
		return
	}
	a.batches.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var envelope runtime.Unknown
	var in v1beta2.EventBatch
	if !bytes.HasPrefix(body, protobufMagic[:]) {
		http.Error(w, "not protobuf", http.StatusUnsupportedMediaType)
		return
	}
	if err := envelope.Unmarshal(body[len(protobufMagic):]); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := in.Unmarshal(envelope.Raw); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := v1beta2.EventBatch{ObjectMeta: in.ObjectMeta, Results: make([]v1beta2.EventBatchResult, len(in.Items))}
	for i := range out.Results {
		out.Results[i] = v1beta2.EventBatchResult{
			Name: "app.18a2b3c4d5e6f7a8", Code: http.StatusCreated,
			UID: "0f8e1c3e-0f43-4b0e-9a38-5d1f0c2a9b11", ResourceVersion: "123456",
		}
	}
	envelope.TypeMeta = runtime.TypeMeta{APIVersion: v1beta2.SchemeGroupVersion.String(), Kind: "EventBatch"}
	if envelope.Raw, err = out.Marshal(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	encoded, err := envelope.Marshal()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", protobufContentType)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(protobufMagic[:])
	_, _ = w.Write(encoded)
}

// processCPU is the CPU time this process has spent, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
