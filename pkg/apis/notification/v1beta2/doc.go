// +k8s:openapi-gen=true
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/notification-apiserver/notification-apiserver/pkg/apis/notification
// +k8s:defaulter-gen=TypeMeta
// +groupName=notification.toolkit.fluxcd.io
// +k8s:openapi-model-package=com.github.notification-apiserver.notification-apiserver.pkg.apis.notification.v1beta2

// Package v1beta2 is the v1beta2 version of the Flux notification API,
// wire-compatible with Flux's notification.toolkit.fluxcd.io/v1beta2.
package v1beta2
