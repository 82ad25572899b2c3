package v1beta2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ObjectReference is the Flux object an Event is about.
type ObjectReference struct {
	// Kind of the object, such as Kustomization.
	// +required
	Kind string `json:"kind" protobuf:"bytes,1,opt,name=kind"`
	// Namespace of the object. It must be the Event's namespace.
	// +required
	Namespace string `json:"namespace" protobuf:"bytes,2,opt,name=namespace"`
	// Name of the object.
	// +required
	Name string `json:"name" protobuf:"bytes,3,opt,name=name"`
	// UID of the object.
	// +optional
	UID string `json:"uid,omitempty" protobuf:"bytes,4,opt,name=uid"`
	// APIVersion of the object, such as kustomize.toolkit.fluxcd.io/v1. Its
	// group selects which metadata keys the Event keeps.
	// +optional
	APIVersion string `json:"apiVersion,omitempty" protobuf:"bytes,5,opt,name=apiVersion"`
	// ResourceVersion of the object.
	// +optional
	ResourceVersion string `json:"resourceVersion,omitempty" protobuf:"bytes,6,opt,name=resourceVersion"`
	// FieldPath within the object.
	// +optional
	FieldPath string `json:"fieldPath,omitempty" protobuf:"bytes,7,opt,name=fieldPath"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Event is a Flux event: what a Flux controller reports about one of its
// objects. It is kept for the event retention, delivered to the Provider
// of every Alert it matches, and its status records each delivery. When
// metadata.name is empty, the name is derived from what makes two events
// the same (as Flux's deduplication keys them), so a repeat within the
// dedup window is refused as AlreadyExists.
type Event struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// InvolvedObject is the Flux object the event is about.
	// +required
	InvolvedObject ObjectReference `json:"involvedObject" protobuf:"bytes,2,opt,name=involvedObject"`
	// Severity of the event: info or error.
	// +required
	Severity string `json:"severity" protobuf:"bytes,3,opt,name=severity"`
	// Timestamp of the event.
	// +required
	Timestamp metav1.Time `json:"timestamp" protobuf:"bytes,4,opt,name=timestamp"`
	// Message of the event.
	// +required
	Message string `json:"message" protobuf:"bytes,5,opt,name=message"`
	// Reason of the event in CamelCase, such as ReconciliationSucceeded.
	// +required
	Reason string `json:"reason" protobuf:"bytes,6,opt,name=reason"`
	// EventMetadata is Flux's event metadata (`metadata` in Flux's JSON):
	// keys prefixed with event.toolkit.fluxcd.io/ or with the involved
	// object's API group; other keys are dropped when the Event is created.
	// +optional
	EventMetadata map[string]string `json:"eventMetadata,omitempty" protobuf:"bytes,7,rep,name=eventMetadata"`
	// ReportingController is the controller that reported the event, such
	// as kustomize-controller.
	// +required
	ReportingController string `json:"reportingController" protobuf:"bytes,8,opt,name=reportingController"`
	// ReportingInstance is the instance (pod) of the reporting controller.
	// +optional
	ReportingInstance string `json:"reportingInstance,omitempty" protobuf:"bytes,9,opt,name=reportingInstance"`

	// Status records the deliveries of the event. It is written by the
	// server only.
	// +optional
	Status EventStatus `json:"status,omitempty" protobuf:"bytes,10,opt,name=status"`
}

// EventStatus records the routing and the deliveries of an Event.
type EventStatus struct {
	// RoutedAt is when the event was matched against the Alerts of its
	// namespace; the deliveries are those of the Alerts that matched then.
	// +optional
	RoutedAt *metav1.Time `json:"routedAt,omitempty" protobuf:"bytes,1,opt,name=routedAt"`
	// Message says why the event has no deliveries, such as "no Alert matched".
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,2,opt,name=message"`
	// Deliveries has one entry per Alert and Provider the event matched.
	// +optional
	// +listType=map
	// +listMapKey=alert
	// +listMapKey=provider
	Deliveries []Delivery `json:"deliveries,omitempty" protobuf:"bytes,3,rep,name=deliveries"`
}

// Delivery is the outcome of sending an Event to one Provider for one Alert.
type Delivery struct {
	// Alert that matched the event.
	// +required
	Alert string `json:"alert" protobuf:"bytes,1,opt,name=alert"`
	// Provider the event is sent to.
	// +required
	Provider string `json:"provider" protobuf:"bytes,2,opt,name=provider"`
	// State of the delivery: Pending, Delivered, Failed or Skipped.
	// +required
	State string `json:"state" protobuf:"bytes,3,opt,name=state"`
	// Attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty" protobuf:"varint,4,opt,name=attempts"`
	// LastAttemptTime is when the last attempt was made.
	// +optional
	LastAttemptTime *metav1.Time `json:"lastAttemptTime,omitempty" protobuf:"bytes,5,opt,name=lastAttemptTime"`
	// Message says why the delivery failed or was skipped. It never holds
	// a secret.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,6,opt,name=message"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EventList is a list of Events.
type EventList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Items are the Events.
	Items []Event `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// +genclient
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EventBatch creates many Events of one namespace in one request: each item
// is named, validated and deduplicated as a create of that Event alone
// would be, and all are stored in one etcd transaction. Creating a batch
// needs permission to create events in its namespace too. Only create is
// served: the batch is not kept; the answer carries one result per item.
// The event receiver sends what it accepts concurrently as batches.
type EventBatch struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. The name is not needed.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Items are the Events to create, in the batch's namespace; at most 500.
	// +required
	// +listType=atomic
	Items []Event `json:"items" protobuf:"bytes,2,rep,name=items"`

	// Results tell, in the order of items, what creating each did. Set by
	// the server.
	// +optional
	// +listType=atomic
	Results []EventBatchResult `json:"results,omitempty" protobuf:"bytes,3,rep,name=results"`
}

// EventBatchResult is the outcome of creating one item of an EventBatch.
type EventBatchResult struct {
	// Name of the Event, derived from its dedup key when the item had none.
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,1,opt,name=name"`
	// Code is the HTTP status a create of this Event alone would have
	// answered: 201 when created, 409 for a duplicate, 422 when invalid.
	// +required
	Code int32 `json:"code" protobuf:"varint,2,opt,name=code"`
	// Reason is the machine-readable reason of a failure, as in a Status.
	// +optional
	Reason string `json:"reason,omitempty" protobuf:"bytes,3,opt,name=reason"`
	// Message says why the item was not created.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,4,opt,name=message"`
	// UID of the created Event.
	// +optional
	UID string `json:"uid,omitempty" protobuf:"bytes,5,opt,name=uid"`
	// ResourceVersion of the created Event.
	// +optional
	ResourceVersion string `json:"resourceVersion,omitempty" protobuf:"bytes,6,opt,name=resourceVersion"`
}
