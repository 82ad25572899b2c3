// +k8s:deepcopy-gen=package
// +groupName=notification.toolkit.fluxcd.io

// Package notification is the internal version of the Flux notification API
// (Provider, Alert) served by notification-apiserver.
package notification
