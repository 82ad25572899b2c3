package validation

import (
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

func validProvider() *notification.Provider {
	return &notification.Provider{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flagger-system", Name: "slack-bot"},
		Spec: notification.ProviderSpec{
			Type:      "slack",
			Interval:  &metav1.Duration{Duration: 10 * time.Minute},
			Timeout:   &metav1.Duration{Duration: 15 * time.Second},
			Channel:   "general",
			Address:   "https://slack.com/api/chat.postMessage",
			SecretRef: &notification.LocalObjectReference{Name: "slack-bot-token"},
		},
	}
}

func validAlert() *notification.Alert {
	return &notification.Alert{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flagger-system", Name: "slack"},
		Spec: notification.AlertSpec{
			ProviderRef:   notification.LocalObjectReference{Name: "slack-bot"},
			EventSeverity: "error",
			EventSources: []notification.CrossNamespaceObjectReference{
				{Kind: "HelmRepository", Name: "*"},
				{Kind: "HelmRelease", Name: "podinfo", Namespace: "apps"},
			},
		},
	}
}

// paths returns "type path" for each error, sorted, for exact comparison.
func paths(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	sort.Strings(out)
	return out
}

func TestValidateProvider(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*notification.Provider)
		want   []string
	}{
		{"the spec's example is valid", func(*notification.Provider) {}, nil},
		{"a missing type is required", func(p *notification.Provider) { p.Spec.Type = "" }, []string{"FieldValueRequired spec.type"}},
		{"an unknown type is not supported", func(p *notification.Provider) { p.Spec.Type = "email" }, []string{"FieldValueNotSupported spec.type"}},
		{"a zero interval is refused", func(p *notification.Provider) { p.Spec.Interval.Duration = 0 }, []string{"FieldValueInvalid spec.interval"}},
		{"a negative timeout is refused", func(p *notification.Provider) { p.Spec.Timeout.Duration = -time.Second }, []string{"FieldValueInvalid spec.timeout"}},
		{"a proxy without a scheme is refused", func(p *notification.Provider) { p.Spec.Proxy = "proxy.local:3128" }, []string{"FieldValueInvalid spec.proxy"}},
		{"a socks proxy is refused", func(p *notification.Provider) { p.Spec.Proxy = "socks5://proxy.local:1080" }, []string{"FieldValueInvalid spec.proxy"}},
		{"a proxy without a host is refused", func(p *notification.Provider) { p.Spec.Proxy = "http://" }, []string{"FieldValueInvalid spec.proxy"}},
		{"an http proxy is accepted", func(p *notification.Provider) { p.Spec.Proxy = "http://user:pass@proxy.local:3128" }, nil},
		{"an address with a space is refused", func(p *notification.Provider) { p.Spec.Address = "https://a b" }, []string{"FieldValueInvalid spec.address"}},
		{"an address with a control character is refused", func(p *notification.Provider) { p.Spec.Address = "https://a\x00b" }, []string{"FieldValueInvalid spec.address"}},
		{"an address over 2048 characters is too long", func(p *notification.Provider) { p.Spec.Address = "https://a/" + strings.Repeat("x", 2048) }, []string{"FieldValueTooLong spec.address"}},
		{"a channel over 2048 characters is too long", func(p *notification.Provider) { p.Spec.Channel = strings.Repeat("c", 2049) }, []string{"FieldValueTooLong spec.channel"}},
		{"a channel with a space is accepted", func(p *notification.Provider) { p.Spec.Channel = "Flux Alerts" }, nil},
		{"a secretRef without a name is refused", func(p *notification.Provider) { p.Spec.SecretRef.Name = "" }, []string{"FieldValueRequired spec.secretRef.name"}},
		{"a certSecretRef with an invalid name is refused", func(p *notification.Provider) {
			p.Spec.CertSecretRef = &notification.LocalObjectReference{Name: "Not_A_Name"}
		}, []string{"FieldValueInvalid spec.certSecretRef.name"}},
		{"a name that is no DNS subdomain is refused", func(p *notification.Provider) { p.Name = "Slack_Bot" }, []string{"FieldValueInvalid metadata.name"}},
		{"a missing namespace is required", func(p *notification.Provider) { p.Namespace = "" }, []string{"FieldValueRequired metadata.namespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validProvider()
			tc.mutate(p)
			got := paths(ValidateProvider(p))
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("errors %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateProviderNeverEchoesURLs(t *testing.T) {
	p := validProvider()
	p.Spec.Proxy = "socks5://user:s3cr3t@proxy.local"
	p.Spec.Address = "https://hooks.example.com/s3cr3t token"
	for _, e := range ValidateProvider(p) {
		if strings.Contains(e.Error(), "s3cr3t") {
			t.Errorf("error %q shows the secret", e.Error())
		}
	}
}

func TestValidateProviderUpdateKeepsMetadataRules(t *testing.T) {
	old := validProvider()
	old.ResourceVersion = "1"
	p := validProvider()
	p.ResourceVersion = "1"
	p.Namespace = "elsewhere"
	got := paths(ValidateProviderUpdate(p, old))
	if len(got) != 1 || got[0] != "FieldValueInvalid metadata.namespace" {
		t.Errorf("errors %v, want metadata.namespace immutable", got)
	}
}

func TestValidateProviderStatusUpdate(t *testing.T) {
	old := validProvider()
	old.ResourceVersion = "3"
	p := validProvider()
	p.ResourceVersion = "3"
	p.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "Perhaps", Reason: "Succeeded", LastTransitionTime: metav1.Now()}}
	got := paths(ValidateProviderStatusUpdate(p, old))
	if len(got) != 1 || got[0] != "FieldValueNotSupported status.conditions[0].status" {
		t.Errorf("errors %v, want the condition status refused", got)
	}
}

func TestValidateAlert(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*notification.Alert)
		want   []string
	}{
		{"the spec's example is valid", func(*notification.Alert) {}, nil},
		{"a missing providerRef name is required", func(a *notification.Alert) { a.Spec.ProviderRef.Name = "" }, []string{"FieldValueRequired spec.providerRef.name"}},
		{"an unknown severity is not supported", func(a *notification.Alert) { a.Spec.EventSeverity = "warning" }, []string{"FieldValueNotSupported spec.eventSeverity"}},
		{"no event sources is refused", func(a *notification.Alert) { a.Spec.EventSources = nil }, []string{"FieldValueRequired spec.eventSources"}},
		{"too many event sources are refused", func(a *notification.Alert) {
			a.Spec.EventSources = make([]notification.CrossNamespaceObjectReference, MaxEventSources+1)
		}, []string{"FieldValueTooMany spec.eventSources"}},
		{"an unknown kind is not supported", func(a *notification.Alert) { a.Spec.EventSources[1].Kind = "Deployment" }, []string{"FieldValueNotSupported spec.eventSources[1].kind"}},
		{"a missing kind is required", func(a *notification.Alert) { a.Spec.EventSources[0].Kind = "" }, []string{"FieldValueRequired spec.eventSources[0].kind"}},
		{"a missing name is required", func(a *notification.Alert) { a.Spec.EventSources[1].Name = "" }, []string{"FieldValueRequired spec.eventSources[1].name"}},
		{"a name glob other than * is refused", func(a *notification.Alert) { a.Spec.EventSources[1].Name = "pod*" }, []string{"FieldValueInvalid spec.eventSources[1].name"}},
		{"a namespace wildcard is refused", func(a *notification.Alert) { a.Spec.EventSources[0].Namespace = "*" }, []string{"FieldValueInvalid spec.eventSources[0].namespace"}},
		{"an invalid label key is refused", func(a *notification.Alert) {
			a.Spec.EventSources[0].MatchLabels = map[string]string{"bad key": "v"}
		}, []string{"FieldValueInvalid spec.eventSources[0].matchLabels"}},
		{"a bad inclusion regexp names its index", func(a *notification.Alert) { a.Spec.InclusionList = []string{".*", "(open"} }, []string{"FieldValueInvalid spec.inclusionList[1]"}},
		{"a bad exclusion regexp names its index", func(a *notification.Alert) { a.Spec.ExclusionList = []string{"[z-a]"} }, []string{"FieldValueInvalid spec.exclusionList[0]"}},
		{"too many regexps are refused", func(a *notification.Alert) { a.Spec.ExclusionList = make([]string, MaxRegexps+1) }, []string{"FieldValueTooMany spec.exclusionList"}},
		{"a summary over 255 characters is too long", func(a *notification.Alert) { a.Spec.Summary = strings.Repeat("s", 256) }, []string{"FieldValueTooLong spec.summary"}},
		{"an empty metadata key is refused", func(a *notification.Alert) { a.Spec.EventMetadata = map[string]string{"": "v"} }, []string{"FieldValueInvalid spec.eventMetadata"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := validAlert()
			tc.mutate(a)
			got := paths(ValidateAlert(a))
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("errors %v, want %v", got, tc.want)
			}
		})
	}
}
