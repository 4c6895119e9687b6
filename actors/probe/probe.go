package probe

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// Prober makes one attempt against t and fills r. It returns when the attempt is
// over or ctx is done (the caller sets the per-probe timeout on ctx); r.Up says
// whether the target passed, and r.Err why not.
type Prober func(ctx context.Context, t *Target, env *Env, r *Result)

// Target is what to probe, in the terms of the Better Uptime Monitors API.
type Target struct {
	// Type is the monitor_type: status, expected_status_code, keyword,
	// keyword_absence, ping, tcp, udp, smtp, pop, imap.
	Type string
	// URL is the monitored url: an http(s) URL for the HTTP types, a host (name
	// or IP) for the others.
	URL string
	// Port is the port for tcp, udp, smtp, pop, imap (required there).
	Port int
	// IPVersion is ip_version: "ipv4" or "ipv6" dials only addresses of that
	// family, failing when the host has none; "" dials any.
	IPVersion string

	// HTTP only.
	Method              string            // GET by default
	Headers             map[string]string // request_headers
	Body                string            // request_body
	BasicAuthUser       string            // auth_username
	BasicAuthPassword   string            // auth_password
	FollowRedirects     bool              // follow_redirects
	RememberCookies     bool              // remember_cookies: cookies set on one hop are sent on the next
	VerifySSL           bool              // verify_ssl
	ExpectedStatusCodes []int             // expected_status_code

	// RequiredKeyword is what keyword must find, keyword_absence must not find,
	// and udp must find in the reply.
	RequiredKeyword string
	// UDPPayload is what the udp prober sends (default "ping\n").
	UDPPayload string

	// http is what Prepare settled for an HTTP target; nil until then.
	http *httpRequest
}

// Prepare settles, once, what every probe of t would otherwise work out
// again: for the HTTP types, the parsed URL and the request's bytes on the
// wire. A monitor sends the same request for as long as it lives, and
// building it with net/http at each probe (url.Parse, a Header map,
// Request.Write) was a tenth of a probe's own CPU. An unprepared target is
// prepared at each probe instead. t must not change after Prepare; copies of
// t share what it settled.
func (t *Target) Prepare() {
	if httpType(t.Type) {
		t.http = prepareHTTP(t)
	}
}

// Env is what a prober may use besides its target. Probers never dial directly.
type Env struct {
	// Dial opens every connection (TCP and UDP). Required. The engine passes a
	// dialer that may refuse loopback and private addresses.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Allow, if set, vets an address no dialer sees (the ICMP prober's); it
	// returns an error to refuse it, as Dial would.
	Allow func(ip net.IP) error
	// Resolve looks up host's addresses; default net.DefaultResolver.LookupNetIP
	// with network "ip". Probers time it as the DNS phase.
	Resolve func(ctx context.Context, host string) ([]net.IP, error)
	// TLS is the base TLS configuration (RootCAs for tests); nil means the system
	// roots. Probers clone it and set ServerName and InsecureSkipVerify.
	TLS *tls.Config
	// Now is the clock phases are timed with; default time.Now.
	Now func() time.Time
}

// Result is the outcome of one probe.
type Result struct {
	Up  bool
	Err string // why the probe failed; empty when Up

	// StatusCode is the HTTP status, or the mail server's greeting code.
	StatusCode int
	// CertNotAfter is the expiry of the leaf certificate the target presented
	// (zero if none), for ssl_expiration.
	CertNotAfter time.Time

	// Phases. A phase that did not happen is zero.
	DNS       time.Duration
	Connect   time.Duration
	TLS       time.Duration
	FirstByte time.Duration // from the start of the probe to the first response byte
	Total     time.Duration
}
