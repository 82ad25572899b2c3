package address

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestPolicy(t *testing.T) {
	resolver := fakeResolver{"hooks.example.com": {"93.184.216.34"}, "sneaky.example.com": {"93.184.216.34", "10.0.0.7"}}
	deny := Policy{DenyInternal: true, Resolver: resolver}
	https := Policy{RequireHTTPS: true, Resolver: resolver}
	tests := []struct {
		name      string
		policy    Policy
		typ, addr string
		wantErr   string
	}{
		{"off allows loopback", Policy{}, "generic", "http://127.0.0.1/x", ""},
		{"a public host passes", deny, "generic", "https://hooks.example.com/x", ""},
		{"loopback is refused", deny, "generic", "https://127.0.0.1:8443/x", "internal address 127.0.0.1"},
		{"IPv6 loopback is refused", deny, "generic", "https://[::1]/x", "internal address ::1"},
		{"the metadata address is refused", deny, "generic", "http://169.254.169.254/latest", "internal address 169.254.169.254"},
		{"a private range is refused", deny, "slack", "https://192.168.1.10/hook", "internal address 192.168.1.10"},
		{"CGNAT is refused", deny, "generic", "https://100.64.1.1/", "internal address 100.64.1.1"},
		{"localhost is refused by name", deny, "generic", "https://localhost:9000/", "internal host"},
		{"a name resolving to a private IP is refused", deny, "generic", "https://sneaky.example.com/", "resolves to internal address 10.0.0.7"},
		{"an unresolvable name is refused", deny, "generic", "https://nowhere.example.com/", "cannot resolve"},
		{"a repository host is checked", deny, "gitlab", "https://10.1.2.3/group/project", "internal address 10.1.2.3"},
		{"pubsub is not a URL", deny, "googlepubsub", "my-project", ""},
		{"http is refused when https is required", https, "generic", "http://hooks.example.com/", "requires https"},
		{"https passes when required", https, "generic", "https://hooks.example.com/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.CheckURL(context.Background(), tc.typ, tc.addr)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}
