package notification

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event severities.
const (
	SeverityInfo  = "info"
	SeverityError = "error"
)

// Delivery states.
const (
	DeliveryPending   = "Pending"
	DeliveryDelivered = "Delivered"
	DeliveryFailed    = "Failed"
	DeliverySkipped   = "Skipped"
)

// ObjectReference is the Flux object an Event is about.
type ObjectReference struct {
	Kind            string
	Namespace       string
	Name            string
	UID             string
	APIVersion      string
	ResourceVersion string
	FieldPath       string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Event is a Flux event, stored for a while and delivered to the Providers
// of the Alerts it matches.
type Event struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	InvolvedObject      ObjectReference
	Severity            string
	Timestamp           metav1.Time
	Message             string
	Reason              string
	EventMetadata       map[string]string
	ReportingController string
	ReportingInstance   string

	Status EventStatus
}

// EventNoAlertMatched is the status message of an Event routed to no
// Alert.
const EventNoAlertMatched = "no Alert matched"

// EventStatus records the deliveries of an Event.
type EventStatus struct {
	RoutedAt   *metav1.Time
	Message    string
	Deliveries []Delivery
}

// Delivery is the outcome of sending an Event to one Provider for one Alert.
type Delivery struct {
	Alert           string
	Provider        string
	State           string
	Attempts        int32
	LastAttemptTime *metav1.Time
	Message         string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EventList is a list of Events.
type EventList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Event
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// EventBatch creates many Events of one namespace in one request.
type EventBatch struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Items   []Event
	Results []EventBatchResult
}

// EventBatchResult is the outcome of creating one item of an EventBatch.
type EventBatchResult struct {
	Name            string
	Code            int32
	Reason          string
	Message         string
	UID             string
	ResourceVersion string
}
