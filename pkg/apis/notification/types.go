package notification

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provider types. The 23 of the Provider reference plus the three that
// Flux's v1beta2 also accepted (bitbucketserver, pagerduty, datadog).
const (
	GenericProvider         = "generic"
	GenericHMACProvider     = "generic-hmac"
	SlackProvider           = "slack"
	DiscordProvider         = "discord"
	MSTeamsProvider         = "msteams"
	RocketProvider          = "rocket"
	GitHubProvider          = "github"
	GitLabProvider          = "gitlab"
	GiteaProvider           = "gitea"
	BitbucketServerProvider = "bitbucketserver"
	BitbucketProvider       = "bitbucket"
	AzureDevOpsProvider     = "azuredevops"
	GoogleChatProvider      = "googlechat"
	GooglePubSubProvider    = "googlepubsub"
	WebexProvider           = "webex"
	SentryProvider          = "sentry"
	AzureEventHubProvider   = "azureeventhub"
	TelegramProvider        = "telegram"
	LarkProvider            = "lark"
	MatrixProvider          = "matrix"
	OpsgenieProvider        = "opsgenie"
	AlertManagerProvider    = "alertmanager"
	GrafanaProvider         = "grafana"
	GitHubDispatchProvider  = "githubdispatch"
	PagerDutyProvider       = "pagerduty"
	DataDogProvider         = "datadog"
)

// ProviderTypes lists every accepted spec.type, in the order of Flux's
// v1beta2 enum.
var ProviderTypes = []string{
	SlackProvider, DiscordProvider, MSTeamsProvider, RocketProvider,
	GenericProvider, GenericHMACProvider, GitHubProvider, GitLabProvider,
	GiteaProvider, BitbucketServerProvider, BitbucketProvider, AzureDevOpsProvider,
	GoogleChatProvider, GooglePubSubProvider, WebexProvider, SentryProvider,
	AzureEventHubProvider, TelegramProvider, LarkProvider, MatrixProvider,
	OpsgenieProvider, AlertManagerProvider, GrafanaProvider, GitHubDispatchProvider,
	PagerDutyProvider, DataDogProvider,
}

// Event severities an Alert can select.
const (
	EventSeverityInfo  = "info"
	EventSeverityError = "error"
)

// EventSourceKinds are the Flux kinds an Alert's eventSources may name.
var EventSourceKinds = []string{
	"Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart",
	"HelmRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation",
	"OCIRepository", "ArtifactGenerator", "ExternalArtifact",
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	Name string
}

// CrossNamespaceObjectReference selects Flux objects whose events an Alert forwards.
type CrossNamespaceObjectReference struct {
	APIVersion  string
	Kind        string
	Name        string
	Namespace   string
	MatchLabels map[string]string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Provider defines how events are encoded and where to send them.
type Provider struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ProviderSpec
	Status ProviderStatus
}

// ProviderSpec is the desired state of a Provider.
type ProviderSpec struct {
	Type          string
	Interval      *metav1.Duration
	Channel       string
	Username      string
	Address       string
	Timeout       *metav1.Duration
	Proxy         string
	SecretRef     *LocalObjectReference
	CertSecretRef *LocalObjectReference
	Suspend       bool
}

// ProviderStatus is the observed state of a Provider, computed by the server.
type ProviderStatus struct {
	LastHandledReconcileAt string
	ObservedGeneration     int64
	Conditions             []metav1.Condition
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ProviderList is a list of Providers.
type ProviderList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Provider
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Alert routes events from Flux objects to a Provider.
type Alert struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   AlertSpec
	Status AlertStatus
}

// AlertSpec is the desired state of an Alert.
type AlertSpec struct {
	ProviderRef   LocalObjectReference
	EventSeverity string
	EventSources  []CrossNamespaceObjectReference
	InclusionList []string
	EventMetadata map[string]string
	ExclusionList []string
	Summary       string
	Suspend       bool
}

// AlertStatus is the observed state of an Alert, computed by the server.
type AlertStatus struct {
	LastHandledReconcileAt string
	ObservedGeneration     int64
	Conditions             []metav1.Condition
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertList is a list of Alerts.
type AlertList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Alert
}
