package probe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func httpServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func probeURL(t *testing.T, tg *Target, env *Env) Result {
	t.Helper()
	return run(probeCtx(t, 10*time.Second), probeHTTP, tg, env)
}

// wantHTTPPhases checks the phases every plain HTTP exchange has.
func wantHTTPPhases(t *testing.T, r Result) {
	t.Helper()
	if r.Connect <= 0 || r.FirstByte <= 0 || r.Total <= 0 {
		t.Errorf("Connect = %v, FirstByte = %v, Total = %v, want all > 0", r.Connect, r.FirstByte, r.Total)
	}
}

func TestHTTPStatus(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		code, _ := strconv.Atoi(req.URL.Query().Get("code"))
		w.WriteHeader(code)
	})
	for _, code := range []int{200, 204, 299} {
		r := probeURL(t, &Target{Type: "status", URL: srv.URL + "/?code=" + strconv.Itoa(code)}, testEnv())
		wantUp(t, r)
		wantHTTPPhases(t, r)
		if r.StatusCode != code {
			t.Errorf("StatusCode = %d, want %d", r.StatusCode, code)
		}
		if r.DNS != 0 || r.TLS != 0 {
			t.Errorf("DNS = %v, TLS = %v for plain HTTP to an IP, want 0", r.DNS, r.TLS)
		}
	}
	for _, code := range []int{404, 500, 503} {
		r := probeURL(t, &Target{Type: "status", URL: srv.URL + "/?code=" + strconv.Itoa(code)}, testEnv())
		wantDown(t, r)
		wantHTTPPhases(t, r)
		if r.StatusCode != code {
			t.Errorf("StatusCode = %d, want %d", r.StatusCode, code)
		}
	}
}

func TestHTTPResolvesName(t *testing.T) {
	srv := httpServer(t, func(http.ResponseWriter, *http.Request) {})
	u, _ := url.Parse(srv.URL)
	r := probeURL(t, &Target{Type: "status", URL: "http://localhost:" + u.Port() + "/"}, testEnv())
	wantUp(t, r)
	wantHTTPPhases(t, r)
	if r.DNS <= 0 {
		t.Errorf("DNS = %v, want > 0", r.DNS)
	}
}

func TestHTTPExpectedStatusCodes(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	r := probeURL(t, &Target{Type: "expected_status_code", URL: srv.URL, ExpectedStatusCodes: []int{200, 418}}, testEnv())
	wantUp(t, r)
	wantHTTPPhases(t, r)
	r = probeURL(t, &Target{Type: "expected_status_code", URL: srv.URL, ExpectedStatusCodes: []int{200}}, testEnv())
	wantDown(t, r)
	if r.StatusCode != http.StatusTeapot {
		t.Errorf("StatusCode = %d, want 418", r.StatusCode)
	}
}

func TestHTTPKeyword(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/error" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		io.WriteString(w, "<html>all systems operational</html>")
	})
	for _, c := range []struct {
		typ, path, keyword string
		up                 bool
	}{
		{"keyword", "/", "operational", true},
		{"keyword", "/", "outage", false},
		{"keyword", "/", "Operational", false}, // exact, as the user typed it
		{"keyword", "/error", "operational", false},
		{"keyword_absence", "/", "outage", true},
		{"keyword_absence", "/", "operational", false},
		{"keyword_absence", "/error", "outage", false},
		{"keyword", "/", "", false},
		{"keyword_absence", "/", "", false},
	} {
		r := probeURL(t, &Target{Type: c.typ, URL: srv.URL + c.path, RequiredKeyword: c.keyword}, testEnv())
		if r.Up != c.up || (r.Err == "") != c.up {
			t.Errorf("%s %q on %s: Up = %v Err = %q, want up %v", c.typ, c.keyword, c.path, r.Up, r.Err, c.up)
		}
	}
}

func TestHTTPKeywordPastLimit(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strings.Repeat("x", maxBody))
		io.WriteString(w, "needle")
	})
	r := probeURL(t, &Target{Type: "keyword", URL: srv.URL, RequiredKeyword: "needle"}, testEnv())
	wantDown(t, r)
	r = probeURL(t, &Target{Type: "keyword_absence", URL: srv.URL, RequiredKeyword: "needle"}, testEnv())
	wantUp(t, r)
}

func TestHTTPRequestShape(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.Header.Get("X-Probe") != "yes" ||
			string(body) != `{"ping":1}` || req.Host != "status.example" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "%s %q %q %q", req.Method, req.Header.Get("X-Probe"), body, req.Host)
		}
	})
	r := probeURL(t, &Target{
		Type: "status", URL: srv.URL, Method: http.MethodPost, Body: `{"ping":1}`,
		Headers: map[string]string{"X-Probe": "yes", "Host": "status.example"},
	}, testEnv())
	wantUp(t, r)
}

func TestHTTPBasicAuth(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != "ops" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	r := probeURL(t, &Target{Type: "status", URL: srv.URL, BasicAuthUser: "ops", BasicAuthPassword: "s3cret"}, testEnv())
	wantUp(t, r)
	r = probeURL(t, &Target{Type: "status", URL: srv.URL, BasicAuthUser: "ops", BasicAuthPassword: "wrong"}, testEnv())
	wantDown(t, r)
	r = probeURL(t, &Target{Type: "status", URL: srv.URL}, testEnv())
	wantDown(t, r)
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("StatusCode = %d, want 401", r.StatusCode)
	}
}

// redirectServer redirects /hop/N to /hop/N-1 and answers /hop/0.
func redirectServer(t *testing.T) *httptest.Server {
	return httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/hop/"))
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if n > 0 {
			http.Redirect(w, req, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
			return
		}
		io.WriteString(w, "arrived")
	})
}

func TestHTTPRedirects(t *testing.T) {
	srv := redirectServer(t)

	r := probeURL(t, &Target{Type: "keyword", URL: srv.URL + "/hop/3", FollowRedirects: true, RequiredKeyword: "arrived"}, testEnv())
	wantUp(t, r)
	wantHTTPPhases(t, r)
	if r.StatusCode != http.StatusOK {
		t.Errorf("StatusCode = %d after following, want 200", r.StatusCode)
	}

	r = probeURL(t, &Target{Type: "status", URL: srv.URL + "/hop/3"}, testEnv())
	wantDown(t, r)
	if r.StatusCode != http.StatusFound {
		t.Errorf("StatusCode = %d without following, want the first response's 302", r.StatusCode)
	}
	r = probeURL(t, &Target{Type: "expected_status_code", URL: srv.URL + "/hop/3", ExpectedStatusCodes: []int{302}}, testEnv())
	wantUp(t, r)

	r = probeURL(t, &Target{Type: "status", URL: srv.URL + "/hop/10", FollowRedirects: true}, testEnv())
	wantUp(t, r)
	r = probeURL(t, &Target{Type: "status", URL: srv.URL + "/hop/11", FollowRedirects: true}, testEnv())
	wantDown(t, r)
	if !strings.Contains(r.Err, "redirects") {
		t.Errorf("Err = %q, want the redirect limit named", r.Err)
	}
}

// TestHTTPFreshConnections shows each probe and each redirect hop opening its
// own connection, as a first-time visitor would.
func TestHTTPFreshConnections(t *testing.T) {
	conns := make(chan struct{}, 100)
	srv := httptest.NewUnstartedServer(redirectServer(t).Config.Handler)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	for range 2 {
		wantUp(t, probeURL(t, &Target{Type: "status", URL: srv.URL + "/hop/2", FollowRedirects: true}, testEnv()))
	}
	if n := len(conns); n != 6 {
		t.Errorf("%d connections for 2 probes of 3 hops, want 6", n)
	}
}

func TestHTTPTimeout(t *testing.T) {
	srv := httpServer(t, func(_ http.ResponseWriter, req *http.Request) {
		<-req.Context().Done() // the probe gives up and closes the connection
	})
	r := run(probeCtx(t, 200*time.Millisecond), probeHTTP, &Target{Type: "status", URL: srv.URL}, testEnv())
	wantDown(t, r)
	if !strings.Contains(r.Err, "deadline exceeded") {
		t.Errorf("Err = %q, want the deadline named", r.Err)
	}
	if r.Connect <= 0 || r.Total <= 0 {
		t.Errorf("Connect = %v, Total = %v, want both > 0", r.Connect, r.Total)
	}
	if r.FirstByte != 0 {
		t.Errorf("FirstByte = %v with no response, want 0", r.FirstByte)
	}
}

func TestHTTPBadTargets(t *testing.T) {
	for _, tg := range []Target{
		{Type: "status", URL: "ftp://127.0.0.1/"},
		{Type: "status", URL: "http://"},
		{Type: "status", URL: "://nope"},
		{Type: "status", URL: "http://127.0.0.1:1/", Method: "BAD METHOD"},
		{Type: "expected_status_code", URL: "http://127.0.0.1:1/"},
		{Type: "tcp", URL: "http://127.0.0.1:1/"},
	} {
		wantDown(t, probeURL(t, &tg, testEnv()))
	}
	// Nothing listens on a freshly closed port.
	wantDown(t, probeURL(t, &Target{Type: "status", URL: "http://127.0.0.1:" + strconv.Itoa(closedPort(t, "tcp"))}, testEnv()))
}

// tlsEnv trusts srv's certificate.
func tlsEnv(cert *x509.Certificate) *Env {
	env := testEnv()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	env.TLS = &tls.Config{RootCAs: pool}
	return env
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "secure")
	}))
	// The unverified probe below fails the handshake on purpose.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	r := probeURL(t, &Target{Type: "keyword", URL: srv.URL, VerifySSL: true, RequiredKeyword: "secure"}, tlsEnv(srv.Certificate()))
	wantUp(t, r)
	wantHTTPPhases(t, r)
	if r.TLS <= 0 {
		t.Errorf("TLS = %v, want > 0", r.TLS)
	}
	if want := srv.Certificate().NotAfter; !r.CertNotAfter.Equal(want) {
		t.Errorf("CertNotAfter = %v, want %v", r.CertNotAfter, want)
	}

	// The system roots do not know httptest's CA.
	r = probeURL(t, &Target{Type: "status", URL: srv.URL, VerifySSL: true}, testEnv())
	wantDown(t, r)
	if !strings.Contains(r.Err, "certificate") {
		t.Errorf("Err = %q, want a certificate error", r.Err)
	}
	r = probeURL(t, &Target{Type: "status", URL: srv.URL, VerifySSL: false}, testEnv())
	wantUp(t, r)
	if r.TLS <= 0 || r.CertNotAfter.IsZero() {
		t.Errorf("TLS = %v, CertNotAfter = %v, want both set without verification", r.TLS, r.CertNotAfter)
	}
}

// shortLivedCert makes a self-signed certificate for 127.0.0.1 that expires at
// notAfter.
func shortLivedCert(t *testing.T, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigilo short-lived test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestHTTPSCertNotAfter(t *testing.T) {
	now := time.Now()
	notAfter := now.Add(36 * time.Hour).Truncate(time.Second) // certificates keep whole seconds
	cert := shortLivedCert(t, notAfter)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	r := probeURL(t, &Target{Type: "status", URL: srv.URL, VerifySSL: true}, tlsEnv(cert.Leaf))
	wantUp(t, r)
	if r.TLS <= 0 {
		t.Errorf("TLS = %v, want > 0", r.TLS)
	}
	if !r.CertNotAfter.Equal(notAfter) {
		t.Fatalf("CertNotAfter = %v, want %v", r.CertNotAfter, notAfter)
	}
	if !CertExpiring(r.CertNotAfter, now, 2) {
		t.Error("a certificate 36h from expiry is not expiring within 2 days")
	}
	if CertExpiring(r.CertNotAfter, now, 1) {
		t.Error("a certificate 36h from expiry is expiring within 1 day")
	}
}

// TestHTTP2 shows the probe negotiating HTTP/2 as a browser would, through the
// same dialer and with the same phases.
func TestHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.WriteString(w, req.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r := probeURL(t, &Target{Type: "keyword", URL: srv.URL, VerifySSL: true, RequiredKeyword: "HTTP/2.0"}, tlsEnv(srv.Certificate()))
	wantUp(t, r)
	wantHTTPPhases(t, r)
	if r.TLS <= 0 || r.CertNotAfter.IsZero() {
		t.Errorf("TLS = %v, CertNotAfter = %v, want both set", r.TLS, r.CertNotAfter)
	}
}

func TestHTTPSRedirectFromPlain(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(tlsSrv.Close)
	plain := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, tlsSrv.URL, http.StatusMovedPermanently)
	})
	r := probeURL(t, &Target{Type: "status", URL: plain.URL, FollowRedirects: true, VerifySSL: true}, tlsEnv(tlsSrv.Certificate()))
	wantUp(t, r)
	if r.TLS <= 0 || r.CertNotAfter.IsZero() {
		t.Errorf("TLS = %v, CertNotAfter = %v: the final hop's handshake is not recorded", r.TLS, r.CertNotAfter)
	}
}

func TestCertExpiring(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, c := range []struct {
		left time.Duration
		days int
		want bool
	}{
		{10 * day, 14, true},
		{10 * day, 7, false},
		{-day, 1, true}, // already expired
		{day - time.Second, 1, true},
		{day + time.Second, 1, false},
		{day, 0, false},
		{day, -1, false},
		{59 * day, 60, true},
	} {
		if got := CertExpiring(now.Add(c.left), now, c.days); got != c.want {
			t.Errorf("CertExpiring(now%+v, %d days) = %v, want %v", c.left, c.days, got, c.want)
		}
	}
	if CertExpiring(time.Time{}, now, 30) {
		t.Error("no certificate counted as expiring")
	}
}

// BenchmarkHTTP measures one status probe, fresh connection included.
func BenchmarkHTTP(b *testing.B) {
	srv := httpServer(b, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	env := testEnv()
	ctx := probeCtx(b, time.Minute)
	// prepared is the engine's way (Target.Prepare at compile); unprepared
	// settles the request at every probe.
	for _, prepared := range []bool{true, false} {
		b.Run(map[bool]string{true: "prepared", false: "unprepared"}[prepared], func(b *testing.B) {
			tg := &Target{Type: "status", URL: srv.URL}
			if prepared {
				tg.Prepare()
			}
			b.ReportAllocs()
			var r Result
			for b.Loop() {
				probeHTTP(ctx, tg, env, &r)
				if !r.Up {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkHTTPParallel is probes in flight together, as the worker pool runs
// them: what a probe costs in CPU rather than in round trips.
func BenchmarkHTTPParallel(b *testing.B) {
	srv := httpServer(b, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	env := testEnv()
	tg := &Target{Type: "status", URL: srv.URL}
	tg.Prepare()
	ctx := probeCtx(b, time.Minute)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		var r Result
		for pb.Next() {
			probeHTTP(ctx, tg, env, &r)
			if !r.Up {
				b.Error(r.Err)
				return
			}
		}
	})
}

// TestHTTPRememberCookies: a login hop sets a cookie and redirects to a page
// that needs it. With remember_cookies the chain passes; without, the cookie is
// dropped; and a probe never starts with a cookie from an earlier one.
func TestHTTPRememberCookies(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
			http.Redirect(w, req, "/home", http.StatusFound)
		case "/home":
			if c, err := req.Cookie("session"); err != nil || c.Value != "s1" {
				w.WriteHeader(http.StatusForbidden)
			}
		}
	})
	login := Target{Type: "status", URL: srv.URL + "/login", FollowRedirects: true, RememberCookies: true}
	wantUp(t, probeURL(t, &login, testEnv()))
	forget := login
	forget.RememberCookies = false
	if r := probeURL(t, &forget, testEnv()); r.Up || r.StatusCode != http.StatusForbidden {
		t.Errorf("without remember_cookies: up %v, status %d; want down with 403", r.Up, r.StatusCode)
	}
	home := login
	home.URL = srv.URL + "/home"
	wantDown(t, probeURL(t, &home, testEnv()))
}
