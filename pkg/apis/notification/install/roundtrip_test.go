package install

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/fuzzer"
)

// TestRoundTripTypes fuzzes every kind internal -> v1beta2 -> wire ->
// v1beta2 -> internal through JSON and through protobuf, so a field that
// go-to-protobuf left out (or one that lost its tag) fails here.
func TestRoundTripTypes(t *testing.T) {
	roundtrip.RoundTripProtobufTestForAPIGroup(t, Install, fuzzer.Funcs)
}
