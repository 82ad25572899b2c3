package notifier

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/notification-apiserver/notification-apiserver/pkg/delivery/settings"
)

// Sentry reports an error event as a Sentry Event and an info event as a
// Transaction with one Span, to the project of the DSN in the address; the
// channel is the environment; the metadata go to the Event's "metadata"
// context (the SDK's replacement of extra) or the Span's tags.
type Sentry struct {
	client   *Client
	settings *settings.Settings
}

// outcome records what the Sentry SDK's transport got back, which the SDK
// itself does not report.
type outcome struct {
	mu     sync.Mutex
	status int
	err    error
	next   http.RoundTripper
}

func (o *outcome) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(r)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.err = err
	if resp != nil {
		o.status = resp.StatusCode
	}
	return resp, err
}

// Post sends the event.
func (s *Sentry) Post(ctx context.Context, e Event) error {
	rec := &outcome{next: s.client.http.Transport}
	if rec.next == nil {
		rec.next = http.DefaultTransport
	}
	sc, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:              s.settings.Address,
		Environment:      s.settings.Channel,
		HTTPClient:       &http.Client{Transport: rec, Timeout: s.client.http.Timeout},
		Transport:        sentry.NewHTTPSyncTransport(),
		EnableTracing:    true,
		TracesSampleRate: 1.0,
	})
	if err != nil {
		return permanent("invalid Sentry DSN")
	}
	hub := sentry.NewHub(sc, sentry.NewScope())
	if e.Severity == "error" {
		event := sentry.NewEvent()
		event.Level = sentry.LevelError
		event.Message = e.Message
		event.Timestamp = e.Timestamp.Time
		event.ServerName = e.ReportingInstance
		event.Tags = map[string]string{"kind": e.InvolvedObject.Kind, "name": e.InvolvedObject.Name, "namespace": e.InvolvedObject.Namespace, "reason": e.Reason}
		// This SDK has no "extra" any more: the metadata is a context.
		metadata := sentry.Context{}
		for k, v := range e.Metadata {
			metadata[k] = v
		}
		event.Contexts["metadata"] = metadata
		hub.CaptureEvent(event)
	} else {
		txCtx := sentry.SetHubOnContext(ctx, hub)
		start := e.Timestamp.Time
		if start.IsZero() {
			start = time.Now()
		}
		tx := sentry.StartTransaction(txCtx, e.ObjectName(), sentry.WithOpName("flux.event"), sentry.WithTransactionSource(sentry.SourceCustom))
		tx.StartTime = start
		span := tx.StartChild(e.Reason, sentry.WithDescription(e.Message))
		span.StartTime = start
		for k, v := range e.Metadata {
			span.SetTag(k, v)
		}
		span.Finish()
		tx.Finish()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	switch {
	case rec.err != nil:
		return retryable("sending to Sentry failed: %s", s.client.Redact(rec.err.Error()))
	case rec.status == 0:
		return retryable("the Sentry SDK sent nothing")
	case rec.status >= 500 || rec.status == http.StatusTooManyRequests:
		return retryable("Sentry answered %d", rec.status)
	case rec.status >= 400:
		return permanent("Sentry answered %d", rec.status)
	}
	return nil
}
