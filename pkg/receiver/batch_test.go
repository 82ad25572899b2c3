package receiver

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/v1beta2"
	"github.com/notification-apiserver/notification-apiserver/pkg/generated/clientset/versioned/scheme"
)

func TestEncodedEventBatchIsWhatTheSerializerWrites(t *testing.T) {
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), protobufContentType)
	if !ok {
		t.Fatal("the clientset has no protobuf serializer")
	}
	encoder := scheme.Codecs.WithoutConversion().EncoderForVersion(info.Serializer, v1beta2.SchemeGroupVersion)
	for _, n := range []int{1, 3, 100} {
		t.Run(fmt.Sprint(n, " events"), func(t *testing.T) {
			batch := &v1beta2.EventBatch{ObjectMeta: metav1.ObjectMeta{Namespace: "apps"}}
			items := make([][]byte, n)
			for i := range n {
				e := v1beta2.Event{
					ObjectMeta:     metav1.ObjectMeta{Namespace: "apps"},
					InvolvedObject: v1beta2.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: fmt.Sprint("app-", i)},
					Severity:       "info", Message: fmt.Sprint("event ", i, " ", bytes.Repeat([]byte("x"), 40*i)),
					Reason: "Succeeded", ReportingController: "kustomize-controller",
					Timestamp:     metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)),
					EventMetadata: map[string]string{"revision": fmt.Sprint("main@", i)},
				}
				batch.Items = append(batch.Items, e)
				var err error
				if items[i], err = e.Marshal(); err != nil {
					t.Fatal(err)
				}
			}
			want, err := runtime.Encode(encoder, batch)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeEventBatch("apps", items)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded %d bytes:\n%x\nthe serializer %d:\n%x", len(got), got, len(want), want)
			}
		})
	}
}
