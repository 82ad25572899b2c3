package validation

import (
	"strings"
	"testing"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
)

// typical is a valid spec.address and spec.channel for each type.
var typical = map[string][2]string{
	"generic":         {"https://webhook.example.com/flux", ""},
	"generic-hmac":    {"https://webhook.example.com/flux", ""},
	"slack":           {"https://slack.com/api/chat.postMessage", "general"},
	"discord":         {"https://discord.com/api/webhooks/123/abc", ""},
	"msteams":         {"https://prod-1.westus.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke?api-version=2016-06-01&sig=abc", ""},
	"rocket":          {"https://rocket.example.com/hooks/abc", "#flux"},
	"github":          {"https://github.com/stefanprodan/podinfo", ""},
	"gitlab":          {"https://gitlab.com/group/subgroup/podinfo", ""},
	"gitea":           {"https://gitea.example.com:3000/owner/podinfo.git", ""},
	"bitbucketserver": {"https://bitbucket.example.com/context/scm/PROJ/podinfo.git", ""},
	"bitbucket":       {"https://bitbucket.org/workspace/podinfo", ""},
	"azuredevops":     {"https://dev.azure.com/org/project/_git/podinfo", ""},
	"googlechat":      {"https://chat.googleapis.com/v1/spaces/X/messages?key=k&token=t", ""},
	"googlepubsub":    {"my-gcp-project", "flux-events"},
	"webex":           {"https://webexapis.com/v1/messages", "Y2lzY29zcGFyazovL3VzL1JPT00v"},
	"sentry":          {"https://key@o0.ingest.sentry.io/0", "production"},
	"azureeventhub":   {"flux-events", "my-namespace"},
	"telegram":        {"https://api.telegram.org", "-1234567890"},
	"lark":            {"https://open.larksuite.com/open-apis/bot/v2/hook/x", ""},
	"matrix":          {"https://matrix.org", "!jezptmDwEeLapMLjOc:matrix.org"},
	"opsgenie":        {"https://api.opsgenie.com/v2/alerts", ""},
	"alertmanager":    {"https://alertmanager.example.com/api/v2/alerts", ""},
	"grafana":         {"https://grafana.example.com/api/annotations", ""},
	"githubdispatch":  {"https://github.com/org/repo", ""},
	"pagerduty":       {"https://events.pagerduty.com", "routing-key"},
	"datadog":         {"https://api.datadoghq.eu", ""},
}

func TestEveryTypeAcceptsItsTypicalAddress(t *testing.T) {
	if len(typical) != 26 || len(notification.ProviderTypes) != 26 {
		t.Fatalf("%d typical addresses, %d types; want 26 each", len(typical), len(notification.ProviderTypes))
	}
	for _, typ := range notification.ProviderTypes {
		ac, ok := typical[typ]
		if !ok {
			t.Errorf("no typical address for %s", typ)
			continue
		}
		p := validProvider()
		p.Spec.Type, p.Spec.Address, p.Spec.Channel = typ, ac[0], ac[1]
		if errs := ValidateProvider(p); len(errs) != 0 {
			t.Errorf("type %s: %v", typ, errs)
		}
	}
}

func TestTypeRules(t *testing.T) {
	tests := []struct {
		name, typ, address, channel string
		wantField, wantMessage      string
	}{
		{"a URL type refuses a bare host", "generic", "webhook.example.com", "", "spec.address", "absolute http or https URL"},
		{"a URL type refuses ftp", "slack", "ftp://slack.com/api", "general", "spec.address", "absolute http or https URL"},
		{"a URL type refuses a URL without host", "alertmanager", "https:///api/v2/alerts", "", "spec.address", "must name a host"},
		{"github needs owner/repo", "github", "https://github.com/stefanprodan", "", "spec.address", "<owner>/<repository>"},
		{"github refuses a deeper path", "github", "https://github.com/a/b/c", "", "spec.address", "<owner>/<repository>"},
		{"githubdispatch needs owner/repo", "githubdispatch", "https://github.com/", "", "spec.address", "names no repository"},
		{"gitlab refuses a lone non-numeric segment", "gitlab", "https://gitlab.com/podinfo", "", "spec.address", "numeric project ID"},
		{"gitea refuses a query", "gitea", "https://gitea.example.com/o/r?x=1", "", "spec.address", "no query"},
		{"bitbucket needs workspace/repo", "bitbucket", "https://bitbucket.org/workspace", "", "spec.address", "<owner>/<repository>"},
		{"bitbucketserver needs /scm/", "bitbucketserver", "https://bitbucket.example.com/projects/P/repos/r", "", "spec.address", "/scm/"},
		{"azuredevops needs _git", "azuredevops", "https://dev.azure.com/org/project/repo", "", "spec.address", "_git"},
		{"azuredevops refuses four segments without _git", "azuredevops", "https://dev.azure.com/org/project/git/repo", "", "spec.address", "_git"},
		{"a repository type refuses ftp", "gitlab", "ftp://gitlab.com/a/b", "", "spec.address", "https, http or ssh"},
		{"googlepubsub refuses a URL", "googlepubsub", "https://pubsub.googleapis.com", "topic", "spec.address", "GCP project ID"},
		{"googlepubsub refuses a short ID", "googlepubsub", "abc", "topic", "spec.address", "GCP project ID"},
		{"googlepubsub needs a topic", "googlepubsub", "my-gcp-project", "", "spec.channel", "Pub/Sub topic"},
		{"telegram needs a chat", "telegram", "", "", "spec.channel", "chat ID"},
		{"matrix needs a room", "matrix", "https://matrix.org", "", "spec.channel", "room ID"},
		{"webex needs a room", "webex", "https://webexapis.com/v1/messages", "", "spec.channel", "room ID"},
		{"azureeventhub refuses a URL", "azureeventhub", "https://hub.example.com", "ns", "spec.address", "Event Hub name"},
		{"azureeventhub refuses an incomplete connection string", "azureeventhub", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k", "", "spec.address", "lacks SharedAccessKey"},
		{"azureeventhub with a hub name needs the namespace", "azureeventhub", "flux-events", "", "spec.channel", "Event Hub namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validProvider()
			p.Spec.Type, p.Spec.Address, p.Spec.Channel = tc.typ, tc.address, tc.channel
			errs := ValidateProvider(p)
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one on %s", errs, tc.wantField)
			}
			if errs[0].Field != tc.wantField || !strings.Contains(errs[0].Error(), tc.wantMessage) {
				t.Errorf("error %q, want one on %s saying %q", errs[0].Error(), tc.wantField, tc.wantMessage)
			}
		})
	}
}

func TestTypeRulesAcceptTheOtherForms(t *testing.T) {
	for _, tc := range []struct{ typ, address, channel string }{
		{"github", "git@github.com:stefanprodan/podinfo.git", ""},
		{"github", "ssh://git@github.example.com:2222/org/repo", ""},
		{"gitlab", "https://gitlab.com/1234", ""},
		{"gitlab", "https://gitlab.example.com/a/b/c/d/e", ""},
		{"bitbucketserver", "https://bitbucket.example.com/scm/PROJ/repo", ""},
		{"azureeventhub", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=s3cr3t=;EntityPath=flux", ""},
		{"googlepubsub", "example.com:my-project", "topic"},
		{"telegram", "", "@flux_alerts"},
		{"slack", "", ""}, // the address may come from the Secret
	} {
		p := validProvider()
		p.Spec.Type, p.Spec.Address, p.Spec.Channel = tc.typ, tc.address, tc.channel
		if errs := ValidateProvider(p); len(errs) != 0 {
			t.Errorf("%s %q: %v", tc.typ, tc.address, errs)
		}
	}
}

func TestAddressErrorsNeverShowTheAddress(t *testing.T) {
	for _, tc := range []struct{ typ, address string }{
		{"azureeventhub", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t;EntityPath=bad hub"},
		{"generic", "hooks.example.com/s3cr3t"},
		{"github", "https://user:s3cr3t@github.com/only-owner"},
		{"googlepubsub", "s3cr3t-but-Invalid"},
	} {
		p := validProvider()
		p.Spec.Type, p.Spec.Address, p.Spec.Channel = tc.typ, tc.address, "c"
		errs := ValidateProvider(p)
		if len(errs) == 0 {
			t.Errorf("%s %q was accepted", tc.typ, tc.address)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), "s3cr3t") {
				t.Errorf("error %q shows the secret", e.Error())
			}
		}
	}
}

func TestProviderWarnings(t *testing.T) {
	tests := []struct {
		name string
		spec notification.ProviderSpec
		want []string
	}{
		{"none for slack with a proxy and a CA", notification.ProviderSpec{Type: "slack", Proxy: "http://proxy:3128", CertSecretRef: &notification.LocalObjectReference{Name: "ca"}}, nil},
		{"telegram ignores the proxy and the CA", notification.ProviderSpec{Type: "telegram", Proxy: "http://proxy:3128", CertSecretRef: &notification.LocalObjectReference{Name: "ca"}}, []string{"spec.proxy", "spec.certSecretRef"}},
		{"googlechat ignores the CA only", notification.ProviderSpec{Type: "googlechat", Proxy: "http://proxy:3128", CertSecretRef: &notification.LocalObjectReference{Name: "ca"}}, []string{"spec.certSecretRef"}},
		{"sentry ignores the proxy only", notification.ProviderSpec{Type: "sentry", Proxy: "http://proxy:3128", CertSecretRef: &notification.LocalObjectReference{Name: "ca"}}, []string{"spec.proxy"}},
		{"credentials in the address", notification.ProviderSpec{Type: "alertmanager", Address: "https://user:pass@am.example.com/api/v2/alerts"}, []string{"spec.address"}},
		{"a connection string in the address", notification.ProviderSpec{Type: "azureeventhub", Address: "Endpoint=sb://n.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=h"}, []string{"spec.address"}},
		{"credentials in the proxy", notification.ProviderSpec{Type: "generic", Proxy: "http://user:pass@proxy:3128"}, []string{"spec.proxy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ProviderWarnings(&tc.spec)
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d on %v", got, len(tc.want), tc.want)
			}
			for i, w := range got {
				if !strings.HasPrefix(w, tc.want[i]+":") {
					t.Errorf("warning %q, want one on %s", w, tc.want[i])
				}
				if strings.Contains(w, "pass@") || strings.Contains(w, "SharedAccessKey=v") {
					t.Errorf("warning %q shows a secret", w)
				}
			}
		})
	}
}
