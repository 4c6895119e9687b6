package probe

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const domainJSON = `{
  "objectClassName": "domain",
  "rdapConformance": ["rdap_level_0"],
  "handle": "2138514_DOMAIN_COM-VRSN",
  "ldhName": "EXAMPLE.COM",
  "status": ["client delete prohibited"],
  "events": [
    {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
    {"eventAction": "expiration", "eventDate": "2031-08-13T04:00:00.5Z"},
    {"eventAction": "last update of RDAP database", "eventDate": "2026-01-01T00:00:00Z"}
  ]
}`

// rdapServer answers GET <prefix>domain/<name> from answers, 404 otherwise.
func rdapServer(t *testing.T, prefix string, answers map[string]string) *httptest.Server {
	return httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		name, ok := strings.CutPrefix(req.URL.Path, prefix+"domain/")
		body, found := answers[name]
		if !ok || !found {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		io.WriteString(w, body)
	})
}

func TestDomainExpiry(t *testing.T) {
	srv := rdapServer(t, "/rdap/", map[string]string{"example.com": domainJSON})
	got, err := DomainExpiry(probeCtx(t, 10*time.Second), testEnv(), srv.URL+"/rdap/", " Example.COM. ")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2031, 8, 13, 4, 0, 0, 500_000_000, time.UTC)
	if !got.Equal(want) {
		t.Errorf("expiry = %v, want %v", got, want)
	}
	if !DomainExpiring(got, want.Add(-29*24*time.Hour), 30) || DomainExpiring(got, want.Add(-31*24*time.Hour), 30) {
		t.Error("DomainExpiring disagrees with a 30 day window")
	}
}

// TestDomainExpiryRedirect follows a redirect as rdap.org answers, to the
// registry's own server.
func TestDomainExpiryRedirect(t *testing.T) {
	registry := rdapServer(t, "/", map[string]string{"example.com": domainJSON})
	bootstrap := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, registry.URL+req.URL.Path, http.StatusFound)
	})
	if _, err := DomainExpiry(probeCtx(t, 10*time.Second), testEnv(), bootstrap.URL, "example.com"); err != nil {
		t.Fatal(err)
	}
}

func TestDomainExpiryUsesEnvDial(t *testing.T) {
	srv := rdapServer(t, "/", map[string]string{"example.com": domainJSON})
	env := testEnv()
	dialed := make(chan string, 10)
	inner := env.Dial
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed <- addr
		return inner(ctx, network, addr)
	}
	if _, err := DomainExpiry(probeCtx(t, 10*time.Second), env, srv.URL, "example.com"); err != nil {
		t.Fatal(err)
	}
	if len(dialed) == 0 {
		t.Error("the RDAP query did not dial through env.Dial")
	}
}

func TestDomainExpiryErrors(t *testing.T) {
	noExpiry := strings.Replace(domainJSON, `"expiration"`, `"transfer"`, 1)
	badDate := strings.Replace(domainJSON, `2031-08-13T04:00:00.5Z`, `next year`, 1)
	srv := rdapServer(t, "/", map[string]string{
		"no-expiry.example": noExpiry,
		"bad-date.example":  badDate,
		"not-json.example":  "<html>",
		"huge.example":      `{"objectClassName":"domain","remarks":"` + strings.Repeat("x", maxRDAPBody) + `"}`,
	})
	broken := httpServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	ctx := probeCtx(t, 10*time.Second)
	for _, c := range []struct{ server, domain, want string }{
		{srv.URL, "missing.example", "404"},
		{srv.URL, "no-expiry.example", "no expiration event"},
		{srv.URL, "bad-date.example", "next year"},
		{srv.URL, "not-json.example", "not-json.example"},
		{srv.URL, "huge.example", "huge.example"},
		{broken.URL, "example.com", "HTTP 503"},
		{srv.URL, "  ", "empty domain"},
		{"ftp://rdap.example/", "example.com", "scheme"},
	} {
		got, err := DomainExpiry(ctx, testEnv(), c.server, c.domain)
		if err == nil {
			t.Errorf("%s at %s: expiry %v, want an error", c.domain, c.server, got)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s at %s: error %q, want it to mention %q", c.domain, c.server, err, c.want)
		}
	}
	if _, err := DomainExpiry(ctx, &Env{}, srv.URL, "example.com"); err == nil {
		t.Error("no dialer: want an error")
	}
}

func TestDomainExpiryTimeout(t *testing.T) {
	srv := httpServer(t, func(_ http.ResponseWriter, req *http.Request) { <-req.Context().Done() })
	_, err := DomainExpiry(probeCtx(t, 200*time.Millisecond), testEnv(), srv.URL, "example.com")
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("error %v, want the deadline named", err)
	}
}

func TestRegistrableDomain(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.example.co.uk/path": "example.co.uk",
		"mail.example.com":               "example.com",
		"localhost":                      "localhost",
		"http://127.0.0.1:8080/":         "127.0.0.1",
	} {
		if got, err := RegistrableDomain(in); err != nil || got != want {
			t.Errorf("RegistrableDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
