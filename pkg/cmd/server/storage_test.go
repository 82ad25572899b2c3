package server

import (
	"bytes"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// etcd gets protobuf, and what an older version wrote as JSON still reads.
func TestStorageCodecWritesProtobufAndReadsJSON(t *testing.T) {
	p := &notification.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "slack", Namespace: "apps"},
		Spec:       notification.ProviderSpec{Type: "slack", Channel: "general", Address: "https://slack.com/api/chat.postMessage"},
	}
	codec, err := storageCodec(runtime.ContentTypeProtobuf)
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	if err := codec.Encode(p, &stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stored.Bytes(), []byte("k8s\x00")) {
		t.Fatalf("stored %q, want protobuf", stored.Bytes()[:min(20, stored.Len())])
	}
	jsonCodec, err := storageCodec(runtime.ContentTypeJSON)
	if err != nil {
		t.Fatal(err)
	}
	var old bytes.Buffer
	if err := jsonCodec.Encode(p, &old); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"protobuf": stored.Bytes(), "JSON": old.Bytes()} {
		obj, _, err := codec.Decode(data, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, ok := obj.(*notification.Provider)
		if !ok || got.Name != p.Name || got.Spec.Type != p.Spec.Type || got.Spec.Channel != p.Spec.Channel || got.Spec.Address != p.Spec.Address {
			t.Errorf("%s read back as %#v", name, obj)
		}
	}
	if _, err := storageCodec("application/xml"); err == nil {
		t.Error("an unsupported media type was accepted")
	}
}
