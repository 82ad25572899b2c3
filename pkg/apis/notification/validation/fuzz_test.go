package validation

import (
	"slices"
	"strings"
	"testing"
	"time"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/install"
)

// FuzzProviderValidation feeds arbitrary strings to every Provider field:
// validation never panics, and never echoes an address or proxy.
func FuzzProviderValidation(f *testing.F) {
	f.Add("slack", "https://slack.com/api/chat.postMessage", "general", "http://proxy:3128", "secret", int64(time.Minute))
	f.Add("github", "git@github.com:org/repo.git", "", "", "", int64(0))
	f.Add("azureeventhub", "Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=c", "ns", "", "", int64(-1))
	f.Add("googlepubsub", "my-project", "topic", "ftp://\x00", "Bad Name", int64(1))
	f.Fuzz(func(t *testing.T, typ, address, channel, proxy, secret string, d int64) {
		p := &notification.Provider{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
			Spec: notification.ProviderSpec{
				Type: typ, Address: address, Channel: channel, Proxy: proxy,
				Interval: &metav1.Duration{Duration: time.Duration(d)}, Timeout: &metav1.Duration{Duration: time.Duration(d)},
				SecretRef: &notification.LocalObjectReference{Name: secret},
			},
		}
		for _, e := range ValidateProvider(p) {
			msg := e.Error()
			for _, v := range []string{address, proxy} {
				if len(v) >= 16 && strings.Contains(msg, v) {
					t.Errorf("error %q repeats a URL", msg)
				}
			}
		}
		_ = ProviderWarnings(&p.Spec)
	})
}

// FuzzAlertValidation feeds arbitrary sources and regexps to an Alert.
func FuzzAlertValidation(f *testing.F) {
	f.Add("Kustomization", "*", "apps", "^Applied", "(", "info")
	f.Add("", "", "*", "a{1000}{1000}", "[[:alpha:]]", "warning")
	f.Fuzz(func(t *testing.T, kind, name, namespace, include, exclude, severity string) {
		a := &notification.Alert{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"},
			Spec: notification.AlertSpec{
				ProviderRef:   notification.LocalObjectReference{Name: "p"},
				EventSeverity: severity,
				EventSources:  []notification.CrossNamespaceObjectReference{{Kind: kind, Name: name, Namespace: namespace, MatchLabels: map[string]string{name: namespace}}},
				InclusionList: []string{include},
				ExclusionList: []string{exclude},
			},
		}
		_ = ValidateAlert(a)
	})
}

// FuzzEventDecodingAndValidation decodes arbitrary bytes as an Event the
// way the API server does (JSON into v1beta2, converted to internal) and
// validates what decodes: nothing panics.
func FuzzEventDecodingAndValidation(f *testing.F) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	decoder := serializer.NewCodecFactory(scheme).UniversalDecoder(notification.SchemeGroupVersion)
	f.Add([]byte(`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","metadata":{"namespace":"apps","name":"e"},
"involvedObject":{"kind":"Kustomization","name":"webapp","namespace":"apps"},"severity":"error","timestamp":"2022-10-28T07:26:19Z",
"message":"m","reason":"R","eventMetadata":{"a":"b"},"reportingController":"kustomize-controller"}`))
	f.Add([]byte(`{"apiVersion":"notification.toolkit.fluxcd.io/v1beta2","kind":"Event","involvedObject":[[[[[]]]]]}`))
	f.Add([]byte("{\"apiVersion\":\"notification.toolkit.fluxcd.io/v1beta2\",\"kind\":\"Event\",\"message\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, _, err := decoder.Decode(data, nil, nil)
		if err != nil {
			return
		}
		if e, ok := obj.(*notification.Event); ok {
			_ = ValidateEvent(e)
			_ = ValidateEventStatusUpdate(e, e)
		}
	})
}

// FuzzNameChecksAgreeWithApimachinery: the checks of names that spare
// the regular expressions accept exactly what apimachinery's accept, and
// refuse with its messages.
func FuzzNameChecksAgreeWithApimachinery(f *testing.F) {
	for _, s := range nameCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkNameChecks(t, s)
	})
}

// nameCases: valid names of each kind, and each way to be one byte off.
var nameCases = []string{
	"", "a", "0", "-", ".", "/", "a-b", "a--b", "-a", "a-", "a.b", "a..b", ".a", "a.", "a.-b", "a-.b",
	"webapp", "flux-system", "ev-0123456789abcdef", "Upper", "a_b", "a b", "é", "a\n", "\na",
	"kustomize.toolkit.fluxcd.io/v1", "v1", "apps/v1", "/v1", "a/", "a/b/c", "a.b/c_d.e-F", "a/_b", "a/b_",
	"Example.com/v1", "example.com/-v1", "example..com/v1",
	strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 253), strings.Repeat("a", 254),
	strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 126) + "ab", "x/" + strings.Repeat("b", 63), "x/" + strings.Repeat("b", 64),
}

func TestNameChecksAgreeWithApimachinery(t *testing.T) {
	for _, s := range nameCases {
		checkNameChecks(t, s)
	}
}

func checkNameChecks(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		what       string
		fast, slow []string
	}{
		{"DNS-1123 subdomain", dns1123Subdomain(s), utilvalidation.IsDNS1123Subdomain(s)},
		{"DNS-1123 label", dns1123Label(s), utilvalidation.IsDNS1123Label(s)},
		{"qualified name", qualifiedName(s), utilvalidation.IsQualifiedName(s)},
		{"object name", nameIsDNSSubdomain(s, false), apimachineryvalidation.NameIsDNSSubdomain(s, false)},
		{"object name prefix", nameIsDNSSubdomain(s, true), apimachineryvalidation.NameIsDNSSubdomain(s, true)},
	} {
		if !slices.Equal(c.fast, c.slow) {
			t.Errorf("%q as a %s: %q, apimachinery says %q", s, c.what, c.fast, c.slow)
		}
	}
}

// FuzzDeliveryCheckAgrees: the quick check of a delivery passes exactly
// those deliveryErrors finds nothing wrong with.
func FuzzDeliveryCheckAgrees(f *testing.F) {
	f.Add("alert", "provider", notification.DeliveryDelivered, int32(1), 0)
	f.Add("apps/alert", "provider", notification.DeliveryFailed, int32(0), MaxDeliveryMessageLength)
	f.Add("Apps/alert", "p", "Sent", int32(-1), MaxDeliveryMessageLength+1)
	f.Add("/a", "", notification.DeliveryPending, int32(3), 10)
	f.Add("a/b/c", "p.q", notification.DeliverySkipped, int32(2), 1)
	f.Fuzz(func(t *testing.T, alert, provider, state string, attempts int32, messageLength int) {
		d := notification.Delivery{Alert: alert, Provider: provider, State: state, Attempts: attempts,
			Message: strings.Repeat("m", max(0, min(messageLength, 2*MaxDeliveryMessageLength)))}
		errs := deliveryErrors(d, field.NewPath("d"), false)
		if deliveryValid(d) != (len(errs) == 0) {
			t.Errorf("%+v: quick check %v, errors %v", d, deliveryValid(d), errs)
		}
	})
}
