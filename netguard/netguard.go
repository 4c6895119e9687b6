package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrDenied is wrapped, together with the refused address, in the error a Guard
// returns for a destination it will not connect to.
var ErrDenied = errors.New("destination is a private address")

// DefaultTimeout is the connect timeout when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options configures a Guard.
type Options struct {
	// DenyPrivate refuses every destination for which Denied reports true.
	// Off, the Guard is a plain dialer (tests and trusted deployments that
	// alert through an internal relay need that).
	DenyPrivate bool
	// Timeout bounds establishing one connection; default DefaultTimeout.
	// The caller's context can only shorten it.
	Timeout time.Duration
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	if o.Timeout < 0 {
		return fmt.Errorf("netguard: Timeout %v is negative", o.Timeout)
	}
	return nil
}

// Guard dials TCP and UDP destinations, refusing the denied ones when its
// Options say so. It is safe for concurrent use.
type Guard struct {
	dialer      net.Dialer
	denyPrivate bool
	timeout     time.Duration
}

// New returns a Guard for o.
func New(o Options) (*Guard, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	// No TCP keep-alive: every connection here carries a probe or a delivery
	// bounded by its own timeout, long before a keep-alive probe would be
	// sent, and enabling it costs four setsockopt calls per connection (about
	// a tenth of a probe's CPU on loopback).
	g := &Guard{dialer: net.Dialer{Timeout: o.Timeout, KeepAlive: -1}, denyPrivate: o.DenyPrivate, timeout: o.Timeout}
	if o.DenyPrivate {
		g.dialer.Control = control
	}
	return g, nil
}

// DialContext connects to addr ("host:port") on network, which must be one of
// tcp, tcp4, tcp6, udp, udp4 or udp6. Its signature matches
// http.Transport.DialContext.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		// Unix sockets and raw IP would sidestep the address check entirely.
		return nil, fmt.Errorf("netguard: dial %s %s: network not supported", network, addr)
	}
	if strings.HasPrefix(network, "tcp") {
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			if c, ok, err := g.dialTCP(ctx, network, ap); ok {
				return c, err
			}
		}
	}
	return g.dialer.DialContext(ctx, network, addr)
}

// control runs for every socket the dialer creates, once per resolved address
// it tries, with that address in numeric form.
func control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// The dialer always hands over a numeric address; anything else is
		// refused rather than guessed at.
		return fmt.Errorf("netguard: unexpected address %q: %w", address, ErrDenied)
	}
	if Denied(ap.Addr()) {
		return deniedError(ap.Addr())
	}
	return nil
}

func deniedError(ip netip.Addr) error { return fmt.Errorf("%s: %w", ip, ErrDenied) }

// Prefixes refused besides what netip.Addr's own predicates cover.
var deniedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network": Linux routes 0.x to the host itself
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, shared address space
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking, sometimes used as internal space
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and 255.255.255.255 broadcast
	netip.MustParsePrefix("fec0::/10"),     // deprecated site-local, still routed internally by some
}

// Denied reports whether ip is an address an outbound connection on behalf of
// a user must not reach: loopback, private (10/8, 172.16/12, 192.168/16,
// fc00::/7), link-local (169.254/16, fe80::/10), unspecified, carrier-grade NAT
// (100.64/10), multicast, and a few reserved IPv4 ranges. An IPv4 address
// written as IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address,
// and so is one embedded in the NAT64 prefix 64:ff9b::/96, since both reach the
// IPv4 host. The zero Addr is denied.
func Denied(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:16]))
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return true
	}
	for _, p := range deniedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")
