package receiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/scheme"
)

// batchPoster sends encoded EventBatches. client-go's Request cost a
// sixth of the receiver's CPU per batch, besides the HTTP/2 exchange: its
// metrics build the URL five times even when none are registered, and the
// scheme decodes the answer. The poster sends the request itself, with the
// clientset's HTTP client (its TLS, credentials and user agent), and reads
// a created batch's results itself. Every other answer, and every answer
// with warnings, goes through client-go's own handling of responses,
// replayed by a RESTClient that returns the answer at hand: the errors are
// those that client-go makes, and the handler's mapping of them to Flux's
// answers holds as it is.
type batchPoster struct {
	client *rest.RESTClient
	// api is the URL of the group version's resources, as the client
	// makes it.
	api    url.URL
	replay *rest.RESTClient
}

// newBatchPoster returns a poster, or nil when the client is not a plain
// RESTClient (a fake) or throttles (--kube-api-qps): client-go then sends
// the batches all the way.
func newBatchPoster(client rest.Interface) (*batchPoster, error) {
	rc, ok := client.(*rest.RESTClient)
	if !ok || rc.Client == nil || rc.GetRateLimiter() != nil {
		return nil, nil
	}
	// The replay client decodes as the receiver's own does: the scheme of
	// the clientset, protobuf when an answer does not say its type.
	gv := v1beta2.SchemeGroupVersion
	replay, err := rest.RESTClientForConfigAndClient(&rest.Config{
		Host:    "https://replay.invalid",
		APIPath: "/apis",
		ContentConfig: rest.ContentConfig{
			GroupVersion:         &gv,
			NegotiatedSerializer: rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion(),
			ContentType:          protobufContentType,
		},
		QPS: -1,
	}, &http.Client{Transport: replayTransport{}})
	if err != nil {
		return nil, fmt.Errorf("building the client that reads the API's answers: %w", err)
	}
	return &batchPoster{client: rc, api: *rc.Post().URL(), replay: replay}, nil
}

// url is where the EventBatches of namespace are created, as client-go
// makes it for a valid namespace (see post), without its Request.
func (p *batchPoster) url(namespace string) string {
	u := p.api
	u.Path += "/namespaces/" + namespace + "/eventbatches"
	return u.String()
}

// post sends body, an encoded EventBatch of namespace, and returns the
// batch the API answers with.
func (p *batchPoster) post(ctx context.Context, namespace string, body []byte) (*v1beta2.EventBatch, error) {
	if len(rest.IsValidPathSegmentName(namespace)) > 0 {
		// client-go refuses such a namespace before sending: let it say so.
		return p.replayed(ctx, namespace, body, nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url(namespace), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", protobufContentType)
	req.Header.Set("Accept", protobufContentType+", */*")
	resp, err := p.client.Client.Do(req)
	if err != nil {
		// As client-go returns it, for a request it does not retry.
		return nil, err
	}
	defer resp.Body.Close()
	data, readErr := io.ReadAll(resp.Body)
	if readErr == nil && resp.StatusCode == http.StatusCreated && len(resp.Header.Values("Warning")) == 0 {
		if out, ok := decodeCreatedBatch(resp.Header.Get("Content-Type"), data); ok {
			return out, nil
		}
	}
	resp.Body = &replayBody{Reader: bytes.NewReader(data), err: readErr}
	return p.replayed(ctx, namespace, body, resp)
}

// replayed returns what client-go's Request makes of resp, the answer to
// body.
func (p *batchPoster) replayed(ctx context.Context, namespace string, body []byte, resp *http.Response) (*v1beta2.EventBatch, error) {
	out := &v1beta2.EventBatch{}
	err := p.replay.Post().Namespace(namespace).Resource("eventbatches").
		MaxRetries(0).
		Body(body).
		Do(context.WithValue(ctx, replayKey{}, resp)).Into(out)
	return out, err
}

// decodeCreatedBatch decodes the protobuf EventBatch of a 201; false for
// anything else.
func decodeCreatedBatch(contentType string, data []byte) (*v1beta2.EventBatch, bool) {
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil || media != protobufContentType || !bytes.HasPrefix(data, protobufMagic[:]) {
		return nil, false
	}
	var envelope runtime.Unknown
	if err := envelope.Unmarshal(data[len(protobufMagic):]); err != nil ||
		envelope.APIVersion != v1beta2.SchemeGroupVersion.String() || envelope.Kind != "EventBatch" ||
		envelope.ContentEncoding != "" || (envelope.ContentType != "" && envelope.ContentType != protobufContentType) {
		return nil, false
	}
	out := &v1beta2.EventBatch{}
	if err := out.Unmarshal(envelope.Raw); err != nil {
		return nil, false
	}
	return out, true
}

// replayKey keys the response that replayTransport returns.
type replayKey struct{}

// replayTransport answers a request with the response in its context.
type replayTransport struct{}

func (replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, ok := req.Context().Value(replayKey{}).(*http.Response)
	if !ok || resp == nil {
		return nil, errors.New("no response to replay")
	}
	resp.Request = req
	return resp, nil
}

// replayBody is a response body read already, with the error its reading
// ended with, if any, for client-go to meet again.
type replayBody struct {
	*bytes.Reader
	err error
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }
