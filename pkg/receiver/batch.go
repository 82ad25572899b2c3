package receiver

import (
	"context"
	"fmt"
	"math/bits"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
)

// protobufContentType is what batches are sent as: every server of the
// EventBatch API decodes it (its types are generated with protobuf), and
// it costs the server less than JSON.
const protobufContentType = "application/vnd.kubernetes.protobuf"

// createBatch stores the events of a namespace that arrived together with
// one request (see create for why it is tried once). It returns each
// event's error, as a create of it alone would have failed. The events
// come protobuf-encoded, each by its own handler.
func (h *Handler) createBatch(ctx context.Context, namespace string, events [][]byte) ([]error, error) {
	body, err := encodeEventBatch(namespace, events)
	if err != nil {
		return nil, err
	}
	var out *v1beta2.EventBatch
	if h.poster != nil {
		out, err = h.poster.post(ctx, namespace, body)
	} else {
		out = &v1beta2.EventBatch{}
		err = h.Client.NotificationV1beta2().RESTClient().Post().
			Namespace(namespace).Resource("eventbatches").
			MaxRetries(0).
			SetHeader("Content-Type", protobufContentType).
			Body(body).
			Do(ctx).Into(out)
	}
	if err != nil {
		return nil, err
	}
	if len(out.Results) != len(events) {
		return nil, fmt.Errorf("the API answered %d results for a batch of %d events", len(out.Results), len(events))
	}
	errs := make([]error, len(events))
	for i, r := range out.Results {
		if r.Code != http.StatusCreated {
			errs[i] = &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: r.Code, Reason: metav1.StatusReason(r.Reason), Message: r.Message,
			}}
		}
	}
	return errs, nil
}

// protobufMagic starts every Kubernetes protobuf body, before the
// runtime.Unknown that holds the object.
var protobufMagic = [...]byte{'k', '8', 's', 0}

// encodeEventBatch returns the body of an EventBatch of namespace with
// the encoded events as items: the bytes the protobuf serializer writes
// for the same EventBatch, put together from the items' without decoding
// or copying them more than once.
func encodeEventBatch(namespace string, events [][]byte) ([]byte, error) {
	batch := encodedEventBatch{meta: metav1.ObjectMeta{Namespace: namespace}, items: events}
	envelope := runtime.Unknown{TypeMeta: runtime.TypeMeta{
		APIVersion: v1beta2.SchemeGroupVersion.String(), Kind: "EventBatch",
	}}
	size := batch.Size()
	// As runtime.Unknown.NestedMarshalTo counts the envelope with its Raw.
	data := make([]byte, len(protobufMagic)+envelope.Size()+1+varintSize(size)+size)
	copy(data, protobufMagic[:])
	n, err := envelope.NestedMarshalTo(data[len(protobufMagic):], &batch, uint64(size))
	if err != nil {
		return nil, fmt.Errorf("encoding an EventBatch: %w", err)
	}
	return data[:len(protobufMagic)+n], nil
}

// encodedEventBatch writes a v1beta2.EventBatch whose items are encoded
// already: its metadata (field 1), then each item (field 2).
type encodedEventBatch struct {
	meta  metav1.ObjectMeta
	items [][]byte
}

const (
	eventBatchMetadataTag = 1<<3 | 2 // field 1, length-delimited
	eventBatchItemTag     = 2<<3 | 2 // field 2, length-delimited
)

func (b *encodedEventBatch) Size() int {
	n := b.meta.Size()
	n += 1 + varintSize(n)
	for _, item := range b.items {
		n += 1 + varintSize(len(item)) + len(item)
	}
	return n
}

// MarshalTo writes the batch at the start of data, which holds Size bytes.
func (b *encodedEventBatch) MarshalTo(data []byte) (int, error) {
	metaSize := b.meta.Size()
	i := 0
	data[i] = eventBatchMetadataTag
	i = putVarint(data, i+1, metaSize)
	if _, err := b.meta.MarshalToSizedBuffer(data[i : i+metaSize]); err != nil {
		return 0, err
	}
	i += metaSize
	for _, item := range b.items {
		data[i] = eventBatchItemTag
		i = putVarint(data, i+1, len(item))
		i += copy(data[i:], item)
	}
	return i, nil
}

func varintSize(x int) int { return (bits.Len64(uint64(x)|1) + 6) / 7 }

// putVarint writes x at data[i:] and returns the index after it.
func putVarint(data []byte, i, x int) int {
	v := uint64(x)
	for v >= 0x80 {
		data[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	data[i] = byte(v)
	return i + 1
}
