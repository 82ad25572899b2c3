package apiserver

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// jsonAndYAMLOnly serves the group's objects as JSON and YAML only. The
// types have no protobuf encoding, and offering it made clients that
// prefer protobuf with a JSON fallback (the namespace controller and the
// garbage collector of kube-controller-manager) fail with a 500 instead
// of getting JSON.
type jsonAndYAMLOnly struct {
	runtime.NegotiatedSerializer
}

const protobufMediaType = "application/vnd.kubernetes.protobuf"

// SupportedMediaTypes leaves protobuf out.
func (s jsonAndYAMLOnly) SupportedMediaTypes() []runtime.SerializerInfo {
	all := s.NegotiatedSerializer.SupportedMediaTypes()
	infos := make([]runtime.SerializerInfo, 0, len(all))
	for _, info := range all {
		if info.MediaType != protobufMediaType {
			infos = append(infos, info)
		}
	}
	return infos
}
