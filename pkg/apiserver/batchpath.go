package apiserver

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	genericapifilters "k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/metrics"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/endpoints/responsewriter"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	compbasemetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// The batch path: the receiver sidecar creates an EventBatch per request,
// hundreds a second, and in a profile of a burst the generic handler
// chain (tracing, priority and fairness, the timeout goroutine,
// go-restful, the managed fields of an object never stored, the latency
// trackers) took more of the server's CPU than storing the batch. A
// protobuf create of an EventBatch with nothing unusual about it takes a
// shorter chain of the same filters where they decide something (panic
// recovery, request info, the shutdown wait group, the request deadline,
// authentication, audit, authorization, warnings, response headers), then
// does what the create handler does: the same decoding, admission,
// storage and answer. Anything else (JSON, query parameters,
// impersonation, CORS, a Table answer) takes the full chain. Not on the
// batch path: priority and fairness (the sidecar bounds its requests in
// flight) and the per-request tracing span. make bench, A/B: 9% less CPU
// per Event through the receiver.

// The create path: creates of this API group that the kube-apiserver
// proxies (through the aggregation layer) take the same shorter chain
// around the server's own API handler, which decodes, admits, tracks
// managed fields, stores and answers them as for any request. The
// kube-apiserver has already applied its priority and fairness to the
// request before proxying it; the request deadline bounds the create
// without the timeout filter's goroutine (the create handler answers 504
// when it passes). Alternating 1,000 creates through each in one control
// plane: 18% less of the server's CPU per Provider created, 6% per Event;
// in make bench, Provider creates at or above the CRD's rate. Requests
// straight to the server, impersonation, CORS, and every request while
// tracing is configured take the full chain.

// The event path: on the create path, a plain create of one Event (JSON or
// protobuf, no query parameters, an answer the client can take, nothing
// the decoder warns of, no owner references) is decoded, admitted, stored
// and answered as the create handler does, without its field manager:
// Events keep no managed fields (the strategy drops them), and computing
// them was 11% of the server's CPU for an Event created through the API.
// Every other create, and every Event the decoder finds anything to say
// about, goes on to the API handler with its body. Not redone here: the
// create handler's second dedup of owner references after mutating
// admission (an Event that admission gives the same owner twice keeps
// both).

// batchPath serves the EventBatch creates that need nothing of the full
// chain, and the creates of the create path.
type batchPath struct {
	// storage is the eventbatches storage, once New has built it.
	storage atomic.Pointer[rest.Creater]
	// events is the events storage, once New has built it.
	events atomic.Pointer[rest.Creater]
	admit  admission.Interface
	// maxBody bounds a request body, as for every create.
	maxBody int64
}

const (
	groupPathPrefix = "/apis/" + notification.GroupName + "/"
	batchPathPrefix = "/apis/" + notification.GroupName + "/v1beta2/namespaces/"
	batchPathSuffix = "/eventbatches"
	eventPathSuffix = "/events"
)

var (
	batchPathRequests = compbasemetrics.NewCounterVec(&compbasemetrics.CounterOpts{
		Namespace:      "notification",
		Name:           "batch_path_requests_total",
		Help:           "EventBatch creates served by the batch path (a shorter handler chain than other requests), by HTTP code.",
		StabilityLevel: compbasemetrics.ALPHA,
	}, []string{"code"})
	eventPathRequests = compbasemetrics.NewCounterVec(&compbasemetrics.CounterOpts{
		Namespace:      "notification",
		Name:           "event_path_requests_total",
		Help:           "Event creates of the create path served without the field manager (the event path), by HTTP code.",
		StabilityLevel: compbasemetrics.ALPHA,
	}, []string{"code"})
	createPathRequests = compbasemetrics.NewCounter(&compbasemetrics.CounterOpts{
		Namespace:      "notification",
		Name:           "create_path_requests_total",
		Help:           "Creates proxied by the kube-apiserver that took the create path (a shorter handler chain than other requests).",
		StabilityLevel: compbasemetrics.ALPHA,
	})
	registerBatchPathMetrics sync.Once
)

var (
	eventBatchKind     = v1beta2.SchemeGroupVersion.WithKind("EventBatch")
	eventBatchResource = v1beta2.SchemeGroupVersion.WithResource("eventbatches")
	eventKind          = v1beta2.SchemeGroupVersion.WithKind("Event")
	eventResource      = v1beta2.SchemeGroupVersion.WithResource("events")
	objectInterfaces   = admission.NewObjectInterfacesFromScheme(Scheme)
)

// withBatchPath wraps the build of the full chain: requests the batch path
// takes go to it, every other to the full chain.
func withBatchPath(p *batchPath, build func(http.Handler, *genericapiserver.Config) http.Handler) func(http.Handler, *genericapiserver.Config) http.Handler {
	return func(apiHandler http.Handler, c *genericapiserver.Config) http.Handler {
		full := build(apiHandler, c)
		if c.ShutdownSendRetryAfter {
			// Its filter needs the server's lifecycle signals, which
			// only the full chain sees.
			return full
		}
		registerBatchPathMetrics.Do(func() { legacyregistry.MustRegister(batchPathRequests, createPathRequests, eventPathRequests) })
		short := p.chain(c, http.HandlerFunc(p.serve))
		var creates http.Handler
		var userHeaders headerrequest.StringSliceProvider
		if rh := c.Authentication.RequestHeaderConfig; rh != nil && rh.UsernameHeaders != nil && !tracing(c.TracerProvider) {
			creates = p.chain(c, p.eventsOr(apiHandler))
			userHeaders = rh.UsernameHeaders
		}
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			switch {
			case p.takes(req):
				short.ServeHTTP(w, req)
			case creates != nil && p.takesCreate(req, userHeaders):
				createPathRequests.Inc()
				creates.ServeHTTP(w, req)
			default:
				full.ServeHTTP(w, req)
			}
		})
	}
}

// tracing tells whether tp records traces: with none configured, the
// server has Kubernetes' no-op provider.
func tracing(tp trace.TracerProvider) bool {
	if tp == nil {
		return false
	}
	_, noop := tp.Tracer("").(nooptrace.Tracer)
	return !noop
}

// chain wraps h in the filters of DefaultBuildHandlerChain that decide
// something for the requests of the batch and create paths, in the same
// order.
func (p *batchPath) chain(c *genericapiserver.Config, h http.Handler) http.Handler {
	h = genericapifilters.WithAuthorization(h, c.Authorization.Authorizer, c.Serializer)
	h = genericapifilters.WithAudit(h, c.AuditBackend, c.AuditPolicyRuleEvaluator, c.LongRunningFunc)
	failed := genericapifilters.Unauthorized(c.Serializer)
	failed = genericapifilters.WithFailedAuthenticationAudit(failed, c.AuditBackend, c.AuditPolicyRuleEvaluator)
	h = genericapifilters.WithAuthentication(h, c.Authentication.Authenticator, failed, c.Authentication.APIAudiences, c.Authentication.RequestHeaderConfig)
	h = genericapifilters.WithWarningRecorder(h)
	h = genericapifilters.WithRequestDeadline(h, c.AuditBackend, c.AuditPolicyRuleEvaluator, c.LongRunningFunc, c.Serializer, c.RequestTimeout)
	h = genericfilters.WithWaitGroup(h, c.LongRunningFunc, c.NonLongRunningRequestWaitGroup)
	h = genericapifilters.WithCacheControl(h)
	h = genericfilters.WithHSTS(h, c.HSTSDirectives)
	h = genericfilters.WithHTTPLogging(h)
	h = genericapifilters.WithRequestInfo(h, c.RequestInfoResolver)
	h = genericapifilters.WithRequestReceivedTimestamp(h)
	h = genericfilters.WithPanicRecovery(h, c.RequestInfoResolver)
	h = genericapifilters.WithAuditInit(h)
	return h
}

// bind gives the path the storage of eventbatches and events; until then
// every request takes the full chain.
func (p *batchPath) bind(batches, events rest.Creater) {
	if p == nil {
		return
	}
	if batches != nil {
		p.storage.Store(&batches)
	}
	if events != nil {
		p.events.Store(&events)
	}
}

// takes tells whether req is a create of an EventBatch the batch path
// serves: POST, protobuf, to a namespace's eventbatches, without query
// parameters (dry run, field manager, validation, timeout, pretty), nor
// impersonation, CORS or a transformed answer (as=Table).
func (p *batchPath) takes(req *http.Request) bool {
	if p.storage.Load() == nil {
		return false
	}
	if media, ok := plainCreate(req, batchPathSuffix); !ok || media != runtime.ContentTypeProtobuf {
		return false
	}
	if req.Header.Get("Origin") != "" || strings.Contains(req.Header.Get("Accept"), "as=") {
		return false
	}
	for name := range req.Header {
		if strings.HasPrefix(name, "Impersonate-") {
			return false
		}
	}
	return true
}

// plainCreate tells whether req is a POST without query parameters to the
// collection named by suffix (such as "/events") of a namespace, in this
// group's version, and gives the media type of its body.
func plainCreate(req *http.Request, suffix string) (string, bool) {
	if req.Method != http.MethodPost || req.URL.RawQuery != "" {
		return "", false
	}
	namespace, ok := strings.CutPrefix(req.URL.Path, batchPathPrefix)
	if !ok {
		return "", false
	}
	if namespace, ok = strings.CutSuffix(namespace, suffix); !ok || len(validation.IsDNS1123Label(namespace)) > 0 {
		return "", false
	}
	media, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	return media, err == nil
}

// takesCreate tells whether req is a create the create path serves: POST
// to this API group, sent by the kube-apiserver's front proxy (a client
// certificate and a user header, which the authentication filter checks;
// userHeaders names the user headers), without impersonation or CORS.
// The API handler does the rest as for any request: query parameters,
// content types, the answer's form.
func (p *batchPath) takesCreate(req *http.Request, userHeaders headerrequest.StringSliceProvider) bool {
	if req.Method != http.MethodPost || p.storage.Load() == nil || req.TLS == nil || len(req.TLS.PeerCertificates) == 0 ||
		!strings.HasPrefix(req.URL.Path, groupPathPrefix) || req.Header.Get("Origin") != "" {
		return false
	}
	user := false
	for _, name := range userHeaders.Value() {
		user = user || req.Header.Get(name) != ""
	}
	if !user {
		return false
	}
	for name := range req.Header {
		if strings.HasPrefix(name, "Impersonate-") {
			return false
		}
	}
	return true
}

// takesEvent tells whether a request of the create path is a create of an
// Event the event path serves: to a namespace's events, JSON or protobuf,
// without query parameters (dry run, field manager, validation, timeout,
// pretty) nor a transformed answer (as=Table).
func (p *batchPath) takesEvent(req *http.Request) bool {
	if p.events.Load() == nil {
		return false
	}
	if media, ok := plainCreate(req, eventPathSuffix); !ok || (media != runtime.ContentTypeJSON && media != runtime.ContentTypeProtobuf) {
		return false
	}
	return !strings.Contains(req.Header.Get("Accept"), "as=")
}

// eventsOr serves the Event creates the event path takes and hands every
// other request to api.
func (p *batchPath) eventsOr(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p.takesEvent(req) {
			p.serveEvent(w, req, api)
			return
		}
		api.ServeHTTP(w, req)
	})
}

// serveEvent creates the Event of an authorized request as the create
// handler does, but for the managed fields; an Event the decoder warns of
// or fails on, or with owner references (which the create handler
// dedups, with a warning), goes on to api with its body.
func (p *batchPath) serveEvent(w http.ResponseWriter, req *http.Request, api http.Handler) {
	ctx := req.Context()
	info, _ := genericapirequest.RequestInfoFrom(ctx)
	if info == nil || info.Namespace == "" || info.Resource != "events" || info.Subresource != "" || info.Name != "" {
		api.ServeHTTP(w, req)
		return
	}
	gv := v1beta2.SchemeGroupVersion
	data, readErr := readBody(req, p.maxBody)
	var e *notification.Event
	if readErr == nil {
		e = p.decodeEvent(req, data)
		if e == nil {
			req.Body = io.NopCloser(bytes.NewReader(data))
			req.ContentLength = int64(len(data))
			api.ServeHTTP(w, req)
			return
		}
	}

	w, done := measured(w, req, eventPathRequests, "events")
	defer done()
	fail := func(err error) {
		responsewriters.ErrorNegotiated(err, Codecs, gv, w, req)
	}
	if readErr != nil {
		fail(readErr)
		return
	}
	p.create(w, req, e, info.Namespace, eventKind, eventResource, *p.events.Load())
}

// decodeEvent decodes data into an internal Event, defaulted, as the
// create handler does with strict decoding; nil when the client accepts
// no form of the answer, the decoder fails or warns, or the Event has
// owner references: the API handler words those errors and warnings, and
// dedups owner references.
func (p *batchPath) decodeEvent(req *http.Request, data []byte) *notification.Event {
	// The answer's form is settled before anything is stored: one the
	// client cannot take is the API handler's 406, with nothing created.
	if _, _, err := negotiation.NegotiateOutputMediaType(req, Codecs, negotiation.DefaultEndpointRestrictions); err != nil {
		return nil
	}
	s, err := negotiation.NegotiateInputSerializer(req, false, Codecs)
	if err != nil || s.StrictSerializer == nil {
		return nil
	}
	defaultKind := eventKind
	obj, gvk, err := Codecs.DecoderToVersion(s.StrictSerializer, notification.SchemeGroupVersion).Decode(data, &defaultKind, &notification.Event{})
	if err != nil || gvk.GroupVersion() != v1beta2.SchemeGroupVersion {
		return nil
	}
	e, ok := obj.(*notification.Event)
	if !ok || len(e.OwnerReferences) > 0 {
		return nil
	}
	return e
}

// serve creates the EventBatch of an authorized request, as the create
// handler does.
func (p *batchPath) serve(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	gv := v1beta2.SchemeGroupVersion
	info, _ := genericapirequest.RequestInfoFrom(ctx)
	w, done := measured(w, req, batchPathRequests, "eventbatches")
	defer done()
	fail := func(err error) {
		responsewriters.ErrorNegotiated(err, Codecs, gv, w, req)
	}
	if info == nil || info.Namespace == "" {
		fail(apierrors.NewBadRequest("an EventBatch needs a namespace"))
		return
	}
	obj, err := p.decode(req)
	if err != nil {
		fail(err)
		return
	}
	p.create(w, req, obj.(*notification.EventBatch), info.Namespace, eventBatchKind, eventBatchResource, *p.storage.Load())
}

// measured wraps w to count and time a create of resource answered here,
// as the create handler's instrumentation does (the code and size written,
// the time since the request came in), in counter by code and in the
// server's request metrics; done records it once the answer is written.
func measured(w http.ResponseWriter, req *http.Request, counter *compbasemetrics.CounterVec, resource string) (_ http.ResponseWriter, done func()) {
	start, ok := genericapirequest.ReceivedTimestampFrom(req.Context())
	if !ok {
		start = time.Now()
	}
	delegate := &metrics.ResponseWriterDelegator{ResponseWriter: w}
	return responsewriter.WrapForHTTP1Or2(delegate), func() {
		counter.WithLabelValues(strconv.Itoa(delegate.Status())).Inc()
		metrics.MonitorRequest(req, "POST", notification.GroupName, v1beta2.SchemeGroupVersion.Version, resource, "",
			"resource", metrics.APIServerComponent, false, "", delegate.Status(), delegate.ContentLength(), time.Since(start))
	}
}

// createdObject is what the paths create: an object with metadata.
type createdObject interface {
	runtime.Object
	metav1.Object
}

// create does what the create handler does with a decoded object: it logs
// it for audit, wipes its system fields, checks its namespace, admits it,
// stores it in storage and answers with what was stored.
func (p *batchPath) create(w http.ResponseWriter, req *http.Request, obj createdObject, namespace string,
	kind schema.GroupVersionKind, resource schema.GroupVersionResource, storage rest.Creater) {
	gv := v1beta2.SchemeGroupVersion
	fail := func(err error) {
		responsewriters.ErrorNegotiated(err, Codecs, gv, w, req)
	}
	ctx := genericapirequest.WithNamespace(req.Context(), namespace)
	audit.LogRequestObject(ctx, obj, gv, resource, "", Codecs)
	rest.WipeObjectMetaSystemFields(obj)
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(namespace, obj); err != nil {
		fail(err)
		return
	}
	user, _ := genericapirequest.UserFrom(ctx)
	admit := admission.WithAudit(p.admit)
	options := &metav1.CreateOptions{}
	attrs := admission.NewAttributesRecord(obj, nil, kind, namespace, obj.GetName(), resource, "", admission.Create, options, false, user)
	if m, ok := admit.(admission.MutationInterface); ok && m.Handles(admission.Create) {
		if err := m.Admit(ctx, attrs, objectInterfaces); err != nil {
			fail(err)
			return
		}
	}
	out, err := storage.Create(ctx, obj, rest.AdmissionToValidateObjectFunc(admit, attrs, objectInterfaces), options)
	if err != nil {
		fail(err)
		return
	}
	responsewriters.WriteObjectNegotiated(Codecs, negotiation.DefaultEndpointRestrictions, gv, w, req, http.StatusCreated, out, false)
}

// decode reads the body (up to maxBody) and decodes it into an internal
// EventBatch, defaulted, as the create handler does.
func (p *batchPath) decode(req *http.Request) (runtime.Object, error) {
	data, err := readBody(req, p.maxBody)
	if err != nil {
		return nil, err
	}
	s, err := negotiation.NegotiateInputSerializer(req, false, Codecs)
	if err != nil {
		return nil, err
	}
	decoder := Codecs.DecoderToVersion(s.Serializer, notification.SchemeGroupVersion)
	defaultKind := eventBatchKind
	obj, gvk, err := decoder.Decode(data, &defaultKind, &notification.EventBatch{})
	if err != nil {
		if gvk != nil && gvk.Kind != "" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a EventBatch: %v", gvk.Kind, gvk.Version, err))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type EventBatch): %v (%s)", err, quote(data)))
	}
	if gvk.GroupVersion() != v1beta2.SchemeGroupVersion {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)",
			gvk.GroupVersion(), v1beta2.SchemeGroupVersion))
	}
	if _, ok := obj.(*notification.EventBatch); !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a EventBatch", gvk.Kind, gvk.Version))
	}
	return obj, nil
}

// quote shows the start of an undecodable body in an error, as the create
// handler does: JSON as text, anything else in hex.
func quote(data []byte) string {
	const most = 30
	switch {
	case len(data) == 0:
		return "<empty>"
	case data[0] == '{' && len(data) > most:
		return string(data[:most]) + " ..."
	case data[0] == '{':
		return string(data)
	case len(data) > most:
		return hex.EncodeToString(data[:most]) + " ..."
	default:
		return hex.EncodeToString(data)
	}
}

// readBody reads at most limit bytes of the body: beyond, 413.
func readBody(req *http.Request, limit int64) ([]byte, error) {
	defer req.Body.Close()
	if limit <= 0 {
		return io.ReadAll(req.Body)
	}
	r := &io.LimitedReader{R: req.Body, N: limit + 1}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if r.N <= 0 {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
	}
	return data, nil
}
