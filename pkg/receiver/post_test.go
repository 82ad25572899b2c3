package receiver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/scheme"
)

// The poster returns what client-go's Request returns for every answer
// of the API: both send the same batch to a fake that answers the same.
func TestBatchPosterAnswersAsClientGo(t *testing.T) {
	created := &v1beta2.EventBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps"},
		Results: []v1beta2.EventBatchResult{
			{Name: "a.1", Code: http.StatusCreated, UID: "u1", ResourceVersion: "7"},
			{Name: "a.2", Code: http.StatusConflict, Reason: "AlreadyExists", Message: "exists"},
		},
	}
	tooMany := &metav1.Status{Status: metav1.StatusFailure, Code: 429, Reason: metav1.StatusReasonTooManyRequests,
		Message: "300 events await delivery", Details: &metav1.StatusDetails{RetryAfterSeconds: 1}}
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: v1beta2.GroupName, Kind: "EventBatch"}, "", nil).Status()
	unauthorized := apierrors.NewUnauthorized("Unauthorized").Status()

	for name, answer := range map[string]func(w http.ResponseWriter){
		"a created batch":                 respond(http.StatusCreated, protobufContentType, encode(t, protobufContentType, created), nil),
		"a created batch, with a warning": respond(http.StatusCreated, protobufContentType, encode(t, protobufContentType, created), http.Header{"Warning": {`299 - "deprecated"`}}),
		"a created batch in JSON":         respond(http.StatusCreated, "application/json", encode(t, "application/json", created), nil),
		"a truncated batch":               respond(http.StatusCreated, protobufContentType, encode(t, protobufContentType, created)[:20], nil),
		"an empty 201":                    respond(http.StatusCreated, protobufContentType, nil, nil),
		"a 200":                           respond(http.StatusOK, protobufContentType, encode(t, protobufContentType, created), nil),
		"an invalid batch, in protobuf":   respond(http.StatusUnprocessableEntity, protobufContentType, encode(t, protobufContentType, &invalid), nil),
		"an invalid batch, in JSON":       respond(http.StatusUnprocessableEntity, "application/json", encode(t, "application/json", &invalid), nil),
		"too many requests":               respond(http.StatusTooManyRequests, "application/json", encode(t, "application/json", tooMany), http.Header{"Retry-After": {"1"}}),
		"unauthorized":                    respond(http.StatusUnauthorized, "application/json", encode(t, "application/json", &unauthorized), nil),
		"a text error":                    respond(http.StatusInternalServerError, "text/plain", []byte("boom\n"), nil),
		"an empty 503":                    respond(http.StatusServiceUnavailable, "", nil, http.Header{"Retry-After": {"3"}}),
		"the connection closed":           func(w http.ResponseWriter) { panic(http.ErrAbortHandler) },
	} {
		t.Run(name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/apis/notification.toolkit.fluxcd.io/v1beta2/namespaces/apps/eventbatches" ||
					r.Header.Get("Content-Type") != protobufContentType {
					t.Errorf("the API was sent %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
				}
				answer(w)
			}))
			defer api.Close()
			body, err := encodeEventBatch("apps", [][]byte{{}, {}})
			if err != nil {
				t.Fatal(err)
			}

			poster, err := newBatchPoster(restClient(t, api.URL, -1))
			if err != nil || poster == nil {
				t.Fatalf("no poster for an unthrottled client: %v", err)
			}
			got, gotErr := poster.post(t.Context(), "apps", body)

			want := &v1beta2.EventBatch{}
			wantErr := restClient(t, api.URL, 1000).Post().Namespace("apps").Resource("eventbatches").
				MaxRetries(0).SetHeader("Content-Type", protobufContentType).Body(body).
				Do(t.Context()).Into(want)

			if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
				t.Fatalf("error %v, client-go's %v", gotErr, wantErr)
			}
			var gotStatus, wantStatus apierrors.APIStatus
			if errors.As(gotErr, &gotStatus) != errors.As(wantErr, &wantStatus) ||
				(gotStatus != nil && !reflect.DeepEqual(gotStatus.Status(), wantStatus.Status())) {
				t.Errorf("status %#v, client-go's %#v", gotStatus, wantStatus)
			}
			if gotErr == nil && !reflect.DeepEqual(got.Results, want.Results) {
				t.Errorf("results %+v, client-go's %+v", got.Results, want.Results)
			}
		})
	}
}

func TestBatchPosterPostsWhereClientGoWould(t *testing.T) {
	var requests atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer api.Close()
	for _, base := range []string{api.URL, api.URL + "/some/prefix/"} {
		client := restClient(t, base, -1)
		poster, err := newBatchPoster(client)
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{"apps", "a b", "a?b#c", "ü", "a:b"} {
			if got, want := poster.url(ns), client.Post().Namespace(ns).Resource("eventbatches").URL().String(); got != want {
				t.Errorf("namespace %q: posting to %s, client-go to %s", ns, got, want)
			}
		}
		for _, ns := range []string{"a/b", "..", ".", "a%2Fb"} {
			requests.Store(0)
			_, err := poster.post(t.Context(), ns, nil)
			wantErr := client.Post().Namespace(ns).Resource("eventbatches").Body([]byte{}).Do(t.Context()).Error()
			if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
				t.Errorf("namespace %q: error %v, client-go's %v", ns, err, wantErr)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("namespace %q: %d requests sent", ns, n)
			}
		}
	}
}

func TestBatchPosterIsLeftOutForThrottledClients(t *testing.T) {
	poster, err := newBatchPoster(restClient(t, "https://api.invalid", 5))
	if poster != nil || err != nil {
		t.Errorf("a throttled client got a poster (%v): client-go would not throttle it", err)
	}
}

func TestBatchPosterGivesUpWithItsContext(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer api.Close()
	poster, _ := newBatchPoster(restClient(t, api.URL, -1))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := poster.post(ctx, "apps", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("posting with an ended context: %v", err)
	}
}

func restClient(t *testing.T, host string, qps float32) *rest.RESTClient {
	t.Helper()
	gv := v1beta2.SchemeGroupVersion
	c, err := rest.RESTClientFor(&rest.Config{
		Host: host, APIPath: "/apis", QPS: qps, Burst: 1000,
		ContentConfig: rest.ContentConfig{
			GroupVersion:         &gv,
			NegotiatedSerializer: rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion(),
			ContentType:          protobufContentType,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func respond(code int, contentType string, body []byte, header http.Header) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range header {
			w.Header()[k] = v
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(code)
		_, _ = w.Write(body)
	}
}

// encode writes obj as the API does, in mediaType.
func encode(t *testing.T, mediaType string, obj runtime.Object) []byte {
	t.Helper()
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		t.Fatalf("no serializer for %s", mediaType)
	}
	gv := v1beta2.SchemeGroupVersion
	if _, ok := obj.(*metav1.Status); ok {
		gv = schema.GroupVersion{Version: "v1"}
	}
	data, err := runtime.Encode(scheme.Codecs.WithoutConversion().EncoderForVersion(info.Serializer, gv), obj)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
