package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openrdap/rdap"
	"golang.org/x/net/publicsuffix"
)

// DefaultRDAPServer redirects each query to the registry that is authoritative
// for the domain's TLD, so vigilo needs no bootstrap file of its own.
const DefaultRDAPServer = "https://rdap.org/"

// maxRDAPBody bounds an RDAP answer: the client reads whole bodies, and a domain
// object with all its entities is tens of kilobytes.
const maxRDAPBody = 4 << 20

// DomainExpiry returns the registration expiry of domain, the date of its
// "expiration" event, as the RDAP server at base URL server (DefaultRDAPServer
// when empty) reports it. All HTTP goes through env.Dial; ctx bounds the query
// including redirects.
func DomainExpiry(ctx context.Context, env *Env, server string, domain string) (expiry time.Time, err error) {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if domain == "" {
		return time.Time{}, errors.New("rdap: empty domain")
	}
	if env == nil || env.Dial == nil {
		return time.Time{}, fmt.Errorf("rdap %s: %w", domain, errNoDial)
	}
	if server == "" {
		server = DefaultRDAPServer
	}
	base, err := url.Parse(server)
	if err != nil {
		return time.Time{}, fmt.Errorf("rdap server %q: %w", server, err)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return time.Time{}, fmt.Errorf("rdap server %q: scheme must be http or https", server)
	}

	var times httpTimes // the transport wants somewhere to put its phases
	client := &rdap.Client{
		HTTP:      &http.Client{Transport: limitBody{newTransport(ctx, env, true, &times, envNow(env)(), "")}},
		UserAgent: userAgent,
	}
	// Server set: the client then never bootstraps, which would fetch IANA's
	// registry outside env.Dial.
	req := (&rdap.Request{Type: rdap.DomainRequest, Query: domain, Server: base}).WithContext(ctx)

	// The decoder is third-party code walking JSON from a remote server; a bad
	// answer must fail this query, not the engine.
	defer func() {
		if p := recover(); p != nil {
			expiry, err = time.Time{}, fmt.Errorf("rdap %s: decoding the answer failed: %v", domain, p)
		}
	}()
	resp, err := client.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("rdap %s%s: %w", domain, httpStatus(resp), err)
	}
	d, ok := resp.Object.(*rdap.Domain)
	if !ok {
		return time.Time{}, fmt.Errorf("rdap %s: answer is %T, not a domain", domain, resp.Object)
	}
	for _, ev := range d.Events {
		if !strings.EqualFold(ev.Action, "expiration") {
			continue
		}
		at, err := parseRDAPDate(ev.Date)
		if err != nil {
			return time.Time{}, fmt.Errorf("rdap %s: expiration event: %w", domain, err)
		}
		return at, nil
	}
	// Some registries (.de, .nl among them) publish no expiry at all.
	return time.Time{}, fmt.Errorf("rdap %s: no expiration event", domain)
}

// DomainExpiring reports whether a domain expiring at expiry does so within
// days of now, with CertExpiring's conventions.
func DomainExpiring(expiry, now time.Time, days int) bool {
	return expiresWithin(expiry, now, days)
}

// parseRDAPDate reads an eventDate. RFC 9083 says RFC 3339, but registries
// also send dates without a zone, which are read as UTC.
func parseRDAPDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is not RFC 3339", s)
}

// httpStatus names the last HTTP status in an RDAP response, because the
// client's own error ("no RDAP servers responded successfully") hides it.
func httpStatus(resp *rdap.Response) string {
	if resp == nil || len(resp.HTTP) == 0 {
		return ""
	}
	if h := resp.HTTP[len(resp.HTTP)-1]; h != nil && h.Response != nil {
		return fmt.Sprintf(" (HTTP %d)", h.Response.StatusCode)
	}
	return ""
}

// limitBody caps response bodies, since the RDAP client reads them whole. A
// body over the cap fails rather than truncates: cut JSON would only fail later
// with a less useful message.
type limitBody struct{ rt http.RoundTripper }

func (l limitBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// MaxBytesReader is documented for request bodies, but a nil writer makes
	// it a plain reader that errors past the limit.
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxRDAPBody)
	return resp, nil
}

// RegistrableDomain is the domain RDAP knows a target by: its host's
// registrable part ("www.example.co.uk" → "example.co.uk"), or the host itself
// when it has none (a single label, an unlisted suffix).
func RegistrableDomain(target string) (string, error) {
	host, err := targetHost(target)
	if err != nil {
		return "", err
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return d, nil
	}
	return host, nil
}
