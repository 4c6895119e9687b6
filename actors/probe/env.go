package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// probers maps each monitor_type to its prober. HTTP has four types because the
// API distinguishes them by what passes, not by how the request is made.
var probers = map[string]Prober{
	"status":               probeHTTP,
	"expected_status_code": probeHTTP,
	"keyword":              probeHTTP,
	"keyword_absence":      probeHTTP,
	"ping":                 probeICMP,
	"tcp":                  probeTCP,
	"udp":                  probeUDP,
	"smtp":                 probeSMTP,
	"pop":                  probePOP,
	"imap":                 probeIMAP,
}

// Lookup returns the prober for a monitor_type, and false for a type vigilo
// cannot probe.
func Lookup(monitorType string) (Prober, bool) {
	p, ok := probers[monitorType]
	return p, ok
}

// errNoDial is returned instead of dialling directly: a missing dialer would
// silently bypass the engine's private-destination policy.
var errNoDial = errors.New("probe: Env.Dial is not set")

// envNow returns env's clock, time.Now when unset.
func envNow(env *Env) func() time.Time {
	if env != nil && env.Now != nil {
		return env.Now
	}
	return time.Now
}

// envResolve returns env's resolver, net.DefaultResolver when unset.
func envResolve(env *Env) func(ctx context.Context, host string) ([]net.IP, error) {
	if env != nil && env.Resolve != nil {
		return env.Resolve
	}
	return defaultResolve
}

func defaultResolve(ctx context.Context, host string) ([]net.IP, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		// Unmap so that a v4 answer dials and pings as v4, not as ::ffff:a.b.c.d.
		ips = append(ips, net.IP(a.Unmap().AsSlice()))
	}
	return ips, nil
}

// resolveHost returns host's addresses of family (a Target.IPVersion). A
// literal IP skips the resolver so the DNS phase stays zero, as it did not
// happen; otherwise the lookup is added to *dns (added, because an HTTP
// redirect chain resolves once per hop).
func resolveHost(ctx context.Context, env *Env, host, family string, dns *time.Duration) ([]net.IP, error) {
	var ips []net.IP
	if a, err := netip.ParseAddr(host); err == nil {
		ips = []net.IP{net.IP(a.Unmap().AsSlice())}
	} else {
		now := envNow(env)
		start := now()
		ips, err = envResolve(env)(ctx, host)
		*dns += now().Sub(start)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
	}
	if family != "" {
		want4 := family == "ipv4"
		kept := ips[:0:0]
		for _, ip := range ips {
			if (ip.To4() != nil) == want4 {
				kept = append(kept, ip)
			}
		}
		if len(kept) == 0 {
			return nil, fmt.Errorf("resolve %s: no %s address (ip_version)", host, family)
		}
		ips = kept
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	return ips, nil
}

// dialHost resolves host's addresses of family through env and connects to
// port through env.Dial, trying each address in turn as net.Dialer does. It
// adds the lookup to *dns and the connection attempts to *connect.
func dialHost(ctx context.Context, env *Env, network, host, family string, port int, dns, connect *time.Duration) (net.Conn, error) {
	if env == nil || env.Dial == nil {
		return nil, errNoDial
	}
	ips, err := resolveHost(ctx, env, host, family, dns)
	if err != nil {
		return nil, err
	}
	now := envNow(env)
	start := now()
	defer func() { *connect += now().Sub(start) }()
	var errs []error
	for _, ip := range ips {
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
		c, err := env.Dial(ctx, network, addr)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("dial %s %s: %w", network, addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// targetHost extracts the host of a non-HTTP target. The API documents a bare
// host, but users paste URLs and bracketed IPv6 literals, which cost nothing to
// accept.
func targetHost(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("target %q: %w", raw, err)
		}
		s = u.Hostname()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if s == "" {
		return "", fmt.Errorf("target %q: no host", raw)
	}
	return s, nil
}

// targetPort checks the port a tcp, udp or mail target requires.
func targetPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", p)
	}
	return nil
}

// dialTarget connects to the target's host and port over network, timing the
// DNS and connect phases into r; on failure it sets r.Err and reports false.
func dialTarget(ctx context.Context, t *Target, env *Env, network string, r *Result) (net.Conn, bool) {
	host, err := targetHost(t.URL)
	if err == nil {
		err = targetPort(t.Port)
	}
	if err != nil {
		r.Err = err.Error()
		return nil, false
	}
	c, err := dialHost(ctx, env, network, host, t.IPVersion, t.Port, &r.DNS, &r.Connect)
	if err != nil {
		r.Err = err.Error()
		return nil, false
	}
	return c, true
}
