package v1beta2

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of the Flux notification API.
const GroupName = "notification.toolkit.fluxcd.io"

// SchemeGroupVersion is the group version used to register these objects.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1beta2"}

var (
	// SchemeBuilder holds the hand-written registration functions; the
	// generated ones register themselves through localSchemeBuilder.
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	// AddToScheme adds the v1beta2 types to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs, addFieldLabelConversions)
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&Provider{},
		&ProviderList{},
		&Alert{},
		&AlertList{},
		&Event{},
		&EventList{},
		&EventBatch{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// addFieldLabelConversions lets clients select Events by the fields the
// storage indexes (kubectl get events.notification --field-selector ...).
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	return scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("Event"), func(label, value string) (string, string, error) {
		switch label {
		case "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.name", "severity", "reason", "status.pending":
			return label, value, nil
		}
		return "", "", fmt.Errorf("field label not supported for Events: %s", label)
	})
}
