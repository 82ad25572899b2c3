// Package receiver is the Flux-compatible event receiver: the sidecar that
// Flux controllers post their events to (--events-addr), which stores each
// as an Event through the Kubernetes API. It answers as Flux's receiver
// does, so senders keep their retry behaviour.
package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned"
	"github.com/notification-apiserver/notification-apiserver/pkg/groupcommit"
)

// MaxBodyBytes is the largest event accepted, as Flux's receiver.
const MaxBodyBytes = 3 * 1024 * 1024

// fluxEvent is Flux's event JSON (fluxcd/pkg/apis/event/v1beta1).
type fluxEvent struct {
	InvolvedObject struct {
		Kind            string `json:"kind"`
		Namespace       string `json:"namespace"`
		Name            string `json:"name"`
		UID             string `json:"uid"`
		APIVersion      string `json:"apiVersion"`
		ResourceVersion string `json:"resourceVersion"`
		FieldPath       string `json:"fieldPath"`
	} `json:"involvedObject"`
	Severity            string            `json:"severity"`
	Timestamp           *metav1.Time      `json:"timestamp"`
	Message             string            `json:"message"`
	Reason              string            `json:"reason"`
	Metadata            map[string]string `json:"metadata"`
	ReportingController string            `json:"reportingController"`
	ReportingInstance   string            `json:"reportingInstance"`
}

// DefaultBatchGather is the receiver command's BatchGather: longer than
// a sender takes to post again once answered, on a busy machine (with 1ms,
// 8 senders' batches held 6.6 events, with 2ms 7.6), and short beside
// the few milliseconds a batch takes to be stored.
const DefaultBatchGather = 2 * time.Millisecond

// Handler accepts Flux events on any path and method.
type Handler struct {
	Client versioned.Interface
	// Timeout bounds the call to the Kubernetes API.
	Timeout time.Duration
	// RetryAfter is what a duplicate's Retry-After tells the sender.
	RetryAfter time.Duration
	Now        func() time.Time
	// MaxBatch is the most events sent in one EventBatch: events accepted
	// concurrently for a namespace are stored in one request and one etcd
	// transaction. 0 or 1: each event is created alone.
	MaxBatch int
	// BatchGather is how long, after a batch of several events, the next
	// batch of the namespace waits for as many more (groupcommit's
	// Gather): senders that wait for each answer post again as soon as
	// they have it, and without the wait 8 such senders' events went in
	// two batches of about 4 taking turns. 0: no wait.
	BatchGather time.Duration

	batchOnce sync.Once
	// batches groups the protobuf-encoded Events of a namespace.
	batches *groupcommit.Group[string, []byte, error]
	// poster sends the batches; nil when client-go's Request must.
	poster *batchPoster
	bodies bodyPool
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	logger := klog.FromContext(r.Context())
	body, err := h.bodies.Read(r)
	defer h.bodies.Put(body)
	if err != nil {
		http.Error(w, "reading the request body failed", http.StatusBadRequest)
		return
	}
	if body.Len() > MaxBodyBytes {
		http.Error(w, fmt.Sprintf("the event exceeds %d bytes", MaxBodyBytes), http.StatusRequestEntityTooLarge)
		return
	}
	var fe fluxEvent
	if err := decodeFluxEvent(body.Bytes(), &fe); err != nil {
		http.Error(w, "the body is not a Flux event: "+jsonProblem(err), http.StatusBadRequest)
		return
	}
	if missing := missingFields(&fe); len(missing) > 0 {
		http.Error(w, "the event lacks "+strings.Join(missing, ", "), http.StatusBadRequest)
		return
	}
	e := h.toEvent(&fe)
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout())
	defer cancel()
	err = h.create(ctx, e)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case apierrors.IsAlreadyExists(err):
		// Flux's senders stop retrying on 429: the event is a duplicate.
		retry := h.now().Add(h.retryAfter()).UTC()
		w.Header().Set("Retry-After", retry.Format(http.TimeFormat))
		w.Header().Set("X-RateLimit-Limit", "1")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", retry.Format(http.TimeFormat))
		logger.V(1).Info("Discarding event, rate limiting duplicate events", "object", fe.InvolvedObject.Kind+"/"+e.Namespace+"/"+fe.InvolvedObject.Name)
		http.Error(w, "duplicate event", http.StatusTooManyRequests)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		http.Error(w, "the event is invalid: "+apiMessage(err), http.StatusBadRequest)
	case apierrors.IsForbidden(err):
		logger.Error(err, "The Kubernetes API refused to store an event: check the receiver's RBAC")
		http.Error(w, "the receiver may not store events", http.StatusInternalServerError)
	case apierrors.IsUnauthorized(err):
		// The server could not authenticate the receiver: its token may be
		// fine but unreviewable while the kube-apiserver is down. The
		// sender retries.
		logger.Error(err, "The API did not authenticate the receiver (its credentials, or the API's token review, may be failing)")
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the event store cannot authenticate the receiver now", http.StatusServiceUnavailable)
	default:
		// Unreachable, overloaded or failing API: the sender retries, after
		// the delay the API asks for (--max-pending-events, flow control).
		retry := 5
		if delay, ok := apierrors.SuggestsClientDelay(err); ok && delay > 0 {
			retry = delay
		}
		if apierrors.IsTooManyRequests(err) {
			logger.V(2).Info("The API refused an event for now: the sender retries", "retryAfter", retry, "reason", apiMessage(err))
		} else {
			logger.Error(err, "Storing an event failed")
		}
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		http.Error(w, "the event store is unavailable", http.StatusServiceUnavailable)
	}
}

// create stores e with one request. client-go would wait out the
// Retry-After of a 429 and try again itself, up to ten times, holding the
// sender longer than it waits (Flux's recorder gives up after 5s): the
// sender is the one to retry, after a 503.
func (h *Handler) create(ctx context.Context, e *v1beta2.Event) error {
	if h.MaxBatch > 1 {
		h.batchOnce.Do(func() {
			// One batch of a namespace in flight at a time: what arrives
			// meanwhile goes in the next one. With two, batches held ~2.4
			// of 8 concurrent senders' events, and each request costs the
			// server and the receiver far more than an event in it does: in
			// make bench one at a time cut the CPU per event of both by a
			// quarter, and delivered faster.
			h.batches = groupcommit.NewGroup(h.createBatch, groupcommit.Options{
				MaxItems: h.MaxBatch, MaxInFlight: 1, Timeout: h.timeout(), Gather: h.BatchGather,
			})
			var err error
			if h.poster, err = newBatchPoster(h.Client.NotificationV1beta2().RESTClient()); err != nil {
				klog.FromContext(ctx).Error(err, "Sending batches through client-go's Request")
			}
		})
		// Encoded here, by the many handlers, rather than in the batch.
		item, err := e.Marshal()
		if err != nil {
			return fmt.Errorf("encoding the event: %w", err)
		}
		itemErr, err := h.batches.Do(ctx, e.Namespace, item)
		if err != nil {
			return err
		}
		return itemErr
	}
	return h.Client.NotificationV1beta2().RESTClient().Post().
		Namespace(e.Namespace).Resource("events").
		MaxRetries(0).
		Body(e).
		Do(ctx).Error()
}

func (h *Handler) toEvent(fe *fluxEvent) *v1beta2.Event {
	io := fe.InvolvedObject
	ts := metav1.NewTime(h.now())
	if fe.Timestamp != nil && !fe.Timestamp.IsZero() {
		ts = *fe.Timestamp
	}
	return &v1beta2.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: io.Namespace},
		InvolvedObject: v1beta2.ObjectReference{
			Kind: io.Kind, Namespace: io.Namespace, Name: io.Name, UID: io.UID,
			APIVersion: io.APIVersion, ResourceVersion: io.ResourceVersion, FieldPath: io.FieldPath,
		},
		Severity:            fe.Severity,
		Timestamp:           ts,
		Message:             fe.Message,
		Reason:              fe.Reason,
		EventMetadata:       fe.Metadata,
		ReportingController: fe.ReportingController,
		ReportingInstance:   fe.ReportingInstance,
	}
}

// missingFields names the required fields that fe lacks, in the order of
// their names. It allocates nothing for a complete event.
func missingFields(fe *fluxEvent) []string {
	var missing []string
	for _, f := range [...]struct{ name, value string }{
		{"involvedObject.kind", fe.InvolvedObject.Kind},
		{"involvedObject.name", fe.InvolvedObject.Name},
		{"involvedObject.namespace", fe.InvolvedObject.Namespace},
		{"message", fe.Message},
		{"reason", fe.Reason},
		{"reportingController", fe.ReportingController},
		{"severity", fe.Severity},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	return missing
}

// jsonProblem says what is wrong with a body, without echoing it.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s must be a %s", typ.Field, typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	default:
		return "malformed JSON"
	}
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		msg := s.Status().Message
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		return msg
	}
	return "refused"
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return 15 * time.Second
}

func (h *Handler) retryAfter() time.Duration {
	if h.RetryAfter > 0 {
		return h.RetryAfter
	}
	return 5 * time.Minute
}
