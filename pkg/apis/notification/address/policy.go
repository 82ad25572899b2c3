package address

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Policy is the operator's rule on where Providers may send: with
// DenyInternal, no address (or proxy) that is or resolves to a loopback,
// link-local, private, shared (CGNAT), multicast or unspecified IP; with
// RequireHTTPS, no plain http. The zero Policy allows everything.
type Policy struct {
	DenyInternal bool
	RequireHTTPS bool
	// Resolver looks host names up; net.DefaultResolver when nil.
	Resolver interface {
		LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	}
}

// Enabled tells whether the policy refuses anything.
func (p Policy) Enabled() bool { return p.DenyInternal || p.RequireHTTPS }

// CheckURL applies the policy to an http(s) address or proxy, or to the
// host of a repository address. Its errors name the host, never the rest
// of the URL.
func (p Policy) CheckURL(ctx context.Context, providerType, raw string) error {
	if !p.Enabled() || raw == "" {
		return nil
	}
	var u *url.URL
	switch {
	case providerType == "googlepubsub" || providerType == "azureeventhub":
		return nil // cloud APIs at fixed public endpoints, not a URL of the user's
	case NamesRepository(providerType):
		r, err := ParseRepository(providerType, raw)
		if err != nil {
			return err
		}
		if u, err = url.Parse(r.Host); err != nil {
			return err
		}
	default:
		var err error
		if u, err = ParseHTTPURL(raw); err != nil {
			return err
		}
	}
	if p.RequireHTTPS && u.Scheme != "https" {
		return fmt.Errorf("the address policy requires https")
	}
	if p.DenyInternal {
		return p.checkHost(ctx, u.Hostname())
	}
	return nil
}

func (p Policy) checkHost(ctx context.Context, host string) error {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("the address policy refuses internal host %q", host)
	}
	if ip := net.ParseIP(host); ip != nil {
		if Internal(ip) {
			return fmt.Errorf("the address policy refuses internal address %s", ip)
		}
		return nil
	}
	resolver := p.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("the address policy cannot resolve host %q: %v", host, err)
	}
	for _, a := range addrs {
		if Internal(a.IP) {
			return fmt.Errorf("the address policy refuses host %q: it resolves to internal address %s", host, a.IP)
		}
	}
	return nil
}

var sharedAddressSpace = &net.IPNet{IP: net.IPv4(100, 64, 0, 0), Mask: net.CIDRMask(10, 32)}

// Internal tells whether ip is loopback, link-local (such as the cloud
// metadata address 169.254.169.254), private, shared, multicast or
// unspecified.
func Internal(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsPrivate() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || sharedAddressSpace.Contains(ip)
}
