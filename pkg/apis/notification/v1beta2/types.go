package v1beta2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// Name of the referent.
	// +required
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
}

// CrossNamespaceObjectReference selects the Flux objects whose events an
// Alert forwards.
type CrossNamespaceObjectReference struct {
	// API version of the referent. Ignored when matching events.
	// +optional
	APIVersion string `json:"apiVersion,omitempty" protobuf:"bytes,1,opt,name=apiVersion"`

	// Kind of the referent: one of Bucket, GitRepository, Kustomization,
	// HelmRelease, HelmChart, HelmRepository, ImageRepository, ImagePolicy,
	// ImageUpdateAutomation, OCIRepository, ArtifactGenerator, ExternalArtifact.
	// +required
	Kind string `json:"kind" protobuf:"bytes,2,opt,name=kind"`

	// Name of the referent. `*` selects every object of the kind in the namespace.
	// +required
	Name string `json:"name" protobuf:"bytes,3,opt,name=name"`

	// Namespace of the referent. Defaults to the Alert's namespace.
	// Namespaces take no wildcard.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,4,opt,name=namespace"`

	// MatchLabels selects the referents by their labels, with name `*`.
	// Each entry is equivalent to an element of matchExpressions whose key
	// field is the map key, whose operator is "In" and whose values contain
	// only the map value. The requirements are ANDed.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty" protobuf:"bytes,5,rep,name=matchLabels"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Provider defines how events are encoded and where to send them.
type Provider struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is the desired state of the Provider.
	// +optional
	Spec ProviderSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is the state of the Provider as observed by the server. It is
	// written by the server only.
	// +optional
	Status ProviderStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ProviderSpec defines the desired state of a Provider.
type ProviderSpec struct {
	// Type of the provider, the API events are sent to. Alerting providers:
	// generic, generic-hmac, azureeventhub, discord, githubdispatch,
	// googlechat, googlepubsub, grafana, lark, matrix, msteams, opsgenie,
	// alertmanager, rocket, sentry, slack, telegram, webex, pagerduty,
	// datadog. Git commit status providers: azuredevops, bitbucket,
	// bitbucketserver, github, gitlab, gitea.
	// +required
	Type string `json:"type" protobuf:"bytes,1,opt,name=type"`

	// Interval at which the Provider is reconciled with its Secret
	// references, as a Go duration such as 10m. Defaults to 10m.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty" protobuf:"bytes,2,opt,name=interval"`

	// Channel where events are posted: a chat channel, room or topic; its
	// meaning depends on the type.
	// +optional
	Channel string `json:"channel,omitempty" protobuf:"bytes,3,opt,name=channel"`

	// Username events are posted as. Overridden by the `username` key of
	// the Secret in secretRef.
	// +optional
	Username string `json:"username,omitempty" protobuf:"bytes,4,opt,name=username"`

	// Address where events are posted: for most types an http(s) URL, for
	// googlepubsub a GCP project ID, for azureeventhub an Event Hub name or
	// SAS connection string, for commit status types the repository URL.
	// Overridden by the `address` key of the Secret in secretRef.
	// +optional
	Address string `json:"address,omitempty" protobuf:"bytes,5,opt,name=address"`

	// Timeout for sending one event to the provider, as a Go duration such
	// as 15s. Defaults to 15s.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty" protobuf:"bytes,6,opt,name=timeout"`

	// Proxy is the http(s) proxy URL used to reach the provider.
	// Overridden by the `proxy` key of the Secret in secretRef.
	// +optional
	Proxy string `json:"proxy,omitempty" protobuf:"bytes,7,opt,name=proxy"`

	// SecretRef names a Secret in the Provider's namespace holding
	// credentials: the keys address, proxy, token, username, password and
	// headers.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty" protobuf:"bytes,8,opt,name=secretRef"`

	// CertSecretRef names a Secret in the Provider's namespace holding the
	// TLS CA certificate (`ca.crt`, or the legacy `caFile`) used to verify
	// the provider's server.
	// +optional
	CertSecretRef *LocalObjectReference `json:"certSecretRef,omitempty" protobuf:"bytes,9,opt,name=certSecretRef"`

	// Suspend tells the server to stop sending events to this Provider
	// while true.
	// +optional
	Suspend bool `json:"suspend,omitempty" protobuf:"varint,10,opt,name=suspend"`
}

// ProviderStatus is the state of a Provider as observed by the server.
type ProviderStatus struct {
	// LastHandledReconcileAt is the last `reconcile.fluxcd.io/requestedAt`
	// annotation value the server acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty" protobuf:"bytes,1,opt,name=lastHandledReconcileAt"`

	// ObservedGeneration is the last metadata.generation that was reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,2,opt,name=observedGeneration"`

	// Conditions holds the Ready, Reconciling and Stalled conditions of the
	// Provider.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,3,rep,name=conditions"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ProviderList is a list of Providers.
type ProviderList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Items are the Providers.
	Items []Provider `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Alert routes the events of selected Flux objects to a Provider.
type Alert struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is the desired state of the Alert.
	// +optional
	Spec AlertSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is the state of the Alert as observed by the server. It is
	// written by the server only.
	// +optional
	Status AlertStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// AlertSpec defines which events an Alert forwards and to which Provider.
type AlertSpec struct {
	// ProviderRef names the Provider, in the Alert's namespace, that events
	// are sent to.
	// +required
	ProviderRef LocalObjectReference `json:"providerRef" protobuf:"bytes,1,opt,name=providerRef"`

	// EventSeverity selects events by severity: `info` forwards every event,
	// `error` only errors. Defaults to info.
	// +optional
	EventSeverity string `json:"eventSeverity,omitempty" protobuf:"bytes,2,opt,name=eventSeverity"`

	// EventSources selects the Flux objects whose events are forwarded; an
	// event is forwarded when any entry matches its object.
	// +required
	// +listType=atomic
	EventSources []CrossNamespaceObjectReference `json:"eventSources" protobuf:"bytes,3,rep,name=eventSources"`

	// InclusionList holds Go regular expressions; when not empty, only
	// events whose message matches one of them are forwarded.
	// +optional
	// +listType=atomic
	InclusionList []string `json:"inclusionList,omitempty" protobuf:"bytes,4,rep,name=inclusionList"`

	// EventMetadata is added to the metadata of every forwarded event.
	// +optional
	EventMetadata map[string]string `json:"eventMetadata,omitempty" protobuf:"bytes,5,rep,name=eventMetadata"`

	// ExclusionList holds Go regular expressions; events whose message
	// matches any of them are not forwarded. Exclusion wins over inclusion.
	// +optional
	// +listType=atomic
	ExclusionList []string `json:"exclusionList,omitempty" protobuf:"bytes,6,rep,name=exclusionList"`

	// Summary is added to the metadata of every forwarded event, under the
	// key `summary`.
	// +optional
	Summary string `json:"summary,omitempty" protobuf:"bytes,7,opt,name=summary"`

	// Suspend tells the server to stop forwarding events for this Alert
	// while true.
	// +optional
	Suspend bool `json:"suspend,omitempty" protobuf:"varint,8,opt,name=suspend"`
}

// AlertStatus is the state of an Alert as observed by the server.
type AlertStatus struct {
	// LastHandledReconcileAt is the last `reconcile.fluxcd.io/requestedAt`
	// annotation value the server acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty" protobuf:"bytes,1,opt,name=lastHandledReconcileAt"`

	// ObservedGeneration is the last metadata.generation that was reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,2,opt,name=observedGeneration"`

	// Conditions holds the Ready, Reconciling and Stalled conditions of the
	// Alert.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,3,rep,name=conditions"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertList is a list of Alerts.
type AlertList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Items are the Alerts.
	Items []Alert `json:"items" protobuf:"bytes,2,rep,name=items"`
}
