package validation

import (
	"fmt"
	"net/url"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification"
	"github.com/notification-apiserver/notification-apiserver/pkg/apis/notification/address"
)

// typesRequiringChannel route by channel and cannot work without one: the
// Pub/Sub topic, the Telegram chat, the Matrix room, the Webex room.
var typesRequiringChannel = map[string]string{
	notification.GooglePubSubProvider: "the Pub/Sub topic ID",
	notification.TelegramProvider:     "the chat ID or @username",
	notification.MatrixProvider:       "the room ID",
	notification.WebexProvider:        "the room ID",
	notification.PagerDutyProvider:    "the integration's routing key",
}

// typesWithoutProxy cannot send through spec.proxy, per the Provider reference.
var typesWithoutProxy = map[string]bool{
	notification.TelegramProvider:      true,
	notification.LarkProvider:          true,
	notification.GooglePubSubProvider:  true,
	notification.SentryProvider:        true,
	notification.MatrixProvider:        true,
	notification.AzureEventHubProvider: true,
}

// typesWithoutCA cannot use a CA from certSecretRef, per the Provider reference.
var typesWithoutCA = map[string]bool{
	notification.TelegramProvider:      true,
	notification.LarkProvider:          true,
	notification.GooglePubSubProvider:  true,
	notification.GoogleChatProvider:    true,
	notification.AzureEventHubProvider: true,
}

// validateTypeRules checks what the Provider's type needs of its address
// and channel. The address is checked only when set in the spec: it may
// come from the Secret instead.
func validateTypeRules(spec *notification.ProviderSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if what, ok := typesRequiringChannel[spec.Type]; ok && spec.Channel == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("channel"), fmt.Sprintf("type %s needs a channel: %s", spec.Type, what)))
	}
	if spec.Address == "" {
		return allErrs
	}
	addrPath := fldPath.Child("address")
	if err := ValidateAddress(spec.Type, spec.Address); err != nil {
		allErrs = append(allErrs, field.Invalid(addrPath, redacted, fmt.Sprintf("not a valid address for type %s: %v", spec.Type, err)))
		return allErrs
	}
	if spec.Type == notification.AzureEventHubProvider && spec.Channel == "" {
		if hub, _ := address.ParseEventHub(spec.Address); hub.ConnectionString == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("channel"),
				"type azureeventhub with an Event Hub name as address needs the Event Hub namespace as channel"))
		}
	}
	return allErrs
}

// ValidateAddress checks an address (from the spec or a Secret) for a
// Provider type. Its errors never repeat the address.
func ValidateAddress(providerType, addr string) error {
	switch {
	case providerType == notification.GooglePubSubProvider:
		return address.ValidateGCPProjectID(addr)
	case providerType == notification.AzureEventHubProvider:
		_, err := address.ParseEventHub(addr)
		return err
	case address.NamesRepository(providerType):
		_, err := address.ParseRepository(providerType, addr)
		return err
	default:
		_, err := address.ParseHTTPURL(addr)
		return err
	}
}

// ProviderWarnings are what admission tells the user about a Provider it
// accepts: settings its type ignores, and secrets in plain sight.
func ProviderWarnings(spec *notification.ProviderSpec) []string {
	var warnings []string
	if spec.Proxy != "" && typesWithoutProxy[spec.Type] {
		warnings = append(warnings, fmt.Sprintf("spec.proxy: type %s does not send through a proxy; the proxy is ignored", spec.Type))
	}
	if spec.CertSecretRef != nil && typesWithoutCA[spec.Type] {
		warnings = append(warnings, fmt.Sprintf("spec.certSecretRef: type %s does not use a custom CA; the certificate is ignored", spec.Type))
	}
	if hasCredentials(spec.Address) {
		warnings = append(warnings, "spec.address: it carries credentials; store the address in the Secret of spec.secretRef under the key address")
	}
	if hasCredentials(spec.Proxy) {
		warnings = append(warnings, "spec.proxy: it carries credentials; store the proxy in the Secret of spec.secretRef under the key proxy")
	}
	return warnings
}

func hasCredentials(s string) bool {
	if s == "" {
		return false
	}
	if hub, err := address.ParseEventHub(s); err == nil && hub.ConnectionString != "" {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && u.User != nil && (u.User.Username() != "" || hasPassword(u.User))
}

func hasPassword(u *url.Userinfo) bool {
	_, ok := u.Password()
	return ok
}
