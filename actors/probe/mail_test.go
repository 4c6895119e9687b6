package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// The servers below listen on ephemeral loopback ports, while the probers
// only accept the well-known mail ports. The bridge is Env.Dial, which the
// engine supplies anyway: the test dialer maps the port the prober asked for
// (25, 465, ...) to the test server's real address and records the request,
// so no hook in the production code is needed.

// mailCert is a self-signed certificate for 127.0.0.1 and localhost.
type mailCert struct {
	pair     tls.Certificate
	notAfter time.Time
	roots    *x509.CertPool
}

func newMailCert(t *testing.T) *mailCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigilo mail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost", "mail.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &mailCert{
		pair:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		notAfter: leaf.NotAfter,
		roots:    roots,
	}
}

func (c *mailCert) server() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.pair}}
}

// mailTestDialer connects a requested port to a test server's address.
type mailTestDialer struct {
	mu     sync.Mutex
	ports  map[int]string
	dialed []string
}

func (d *mailTestDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("test dialer: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("test dialer: %w", err)
	}
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	real, ok := d.ports[port]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("test dialer: no server for port %d", port)
	}
	// The engine's own dialer, so the mail dialogues run on its connections.
	return testEnv().Dial(ctx, network, real)
}

func (d *mailTestDialer) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// mailTickClock advances a millisecond per reading, so every phase that happened
// is non-zero without depending on how fast the machine is.
func mailTickClock() func() time.Time {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
}

func mailTestEnv(cert *mailCert, port int, addr string) (*Env, *mailTestDialer) {
	d := &mailTestDialer{ports: map[int]string{port: addr}}
	env := &Env{Dial: d.dial, Now: mailTickClock()}
	if cert != nil {
		env.TLS = &tls.Config{RootCAs: cert.roots}
	}
	return env, d
}

var mailQuietLog = log.New(io.Discard, "", 0)

// --- SMTP: github.com/emersion/go-smtp ---

type smtpTestSession struct{}

func (smtpTestSession) Reset()                               {}
func (smtpTestSession) Logout() error                        { return nil }
func (smtpTestSession) Mail(string, *smtp.MailOptions) error { return nil }
func (smtpTestSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (smtpTestSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func newSMTPTestSession(*smtp.Conn) (smtp.Session, error)    { return smtpTestSession{}, nil }
func refuseSMTPTestSession(*smtp.Conn) (smtp.Session, error) { return nil, errors.New("not today") }
func serveSMTP(t *testing.T, starttls, implicit *tls.Config, be smtp.BackendFunc) (addr string, stop func()) {
	t.Helper()
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ErrorLog = mailQuietLog
	s.TLSConfig = starttls
	ln := mailListen(t, implicit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// Closing the listener too covers a stop that comes before
			// Serve has registered it, which would leave the port open.
			_ = s.Close()
			_ = ln.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func mailListen(t *testing.T, implicit *tls.Config) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicit != nil {
		ln = tls.NewListener(ln, implicit)
	}
	return ln
}

// --- IMAP: github.com/emersion/go-imap/v2 imapserver with imapmemserver ---

func serveIMAP(t *testing.T, starttls, implicit *tls.Config, newSession func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error)) (addr string, stop func()) {
	t.Helper()
	if newSession == nil {
		mem := imapmemserver.New()
		newSession = func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		}
	}
	s := imapserver.New(&imapserver.Options{
		NewSession: newSession,
		Caps:       imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger:     mailQuietLog,
		TLSConfig:  starttls,
	})
	ln := mailListen(t, implicit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// Closing the listener too covers a stop that comes before
			// Serve has registered it, which would leave the port open.
			_ = s.Close()
			_ = ln.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// --- POP3 ---
//
// No maintained Go POP3 server library could be had from the module proxy, so
// this is a minimal server written to RFC 1939 and RFC 2449/2595 for the
// commands a probe sends: the greeting, CAPA (listing STLS when it can), STLS
// with a real TLS handshake, and QUIT; anything else gets -ERR.

type pop3Server struct {
	ln       net.Listener
	greeting string
	stls     *tls.Config
	wg       sync.WaitGroup
}

func servePOP(t *testing.T, starttls, implicit *tls.Config) (addr string, stop func()) {
	t.Helper()
	p := &pop3Server{ln: mailListen(t, implicit), greeting: "+OK vigilo test POP3 ready", stls: starttls}
	p.wg.Add(1)
	go p.serve()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = p.ln.Close()
			p.wg.Wait()
		})
	}
	t.Cleanup(stop)
	return p.ln.Addr().String(), stop
}

func (p *pop3Server) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			p.session(c)
		}()
	}
}

func (p *pop3Server) session(c net.Conn) {
	tc := textproto.NewConn(c)
	if tc.PrintfLine("%s", p.greeting) != nil {
		return
	}
	_, secure := c.(*tls.Conn)
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "CAPA":
			caps := []string{"+OK capability list follows", "USER", "UIDL", "TOP", "RESP-CODES"}
			if p.stls != nil && !secure {
				caps = append(caps, "STLS")
			}
			for _, l := range append(caps, ".") {
				if tc.PrintfLine("%s", l) != nil {
					return
				}
			}
		case "STLS":
			if p.stls == nil || secure {
				_ = tc.PrintfLine("-ERR command not permitted")
				continue
			}
			if tc.PrintfLine("+OK begin TLS negotiation") != nil {
				return
			}
			tlsConn := tls.Server(c, p.stls)
			if tlsConn.Handshake() != nil {
				return
			}
			c, secure = tlsConn, true
			defer tlsConn.Close()
			tc = textproto.NewConn(c)
		case "QUIT":
			_ = tc.PrintfLine("+OK bye")
			return
		default:
			_ = tc.PrintfLine("-ERR unknown command")
		}
	}
}

// --- misbehaving servers ---

// mailServeScript accepts connections, writes banner on each, then reads until
// the client hangs up. An empty banner is a server that never greets.
func mailServeScript(t *testing.T, banner string) string {
	t.Helper()
	ln := mailListen(t, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if banner != "" {
					_, _ = io.WriteString(c, banner)
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// --- the table of the three protocols ---

type mailServeFunc func(t *testing.T, starttls, implicit *tls.Config) (addr string, stop func())

type mailKind struct {
	name       string
	probe      Prober
	plainPort  int
	tlsPort    int
	serve      mailServeFunc
	badPort    int
	badGreet   string // what a refusing server says, for the scripted server
	statusCode int    // the greeting code a healthy server yields
}

var mailKinds = []mailKind{
	{
		name: "smtp", probe: probeSMTP, plainPort: 587, tlsPort: 465, badPort: 2525,
		serve: func(t *testing.T, starttls, implicit *tls.Config) (string, func()) {
			return serveSMTP(t, starttls, implicit, newSMTPTestSession)
		},
		badGreet:   "554 no service\r\n",
		statusCode: 220,
	},
	{
		name: "pop", probe: probePOP, plainPort: 110, tlsPort: 995, badPort: 143,
		serve:    servePOP,
		badGreet: "-ERR maildrop locked\r\n",
	},
	{
		name: "imap", probe: probeIMAP, plainPort: 143, tlsPort: 993, badPort: 110,
		serve: func(t *testing.T, starttls, implicit *tls.Config) (string, func()) {
			return serveIMAP(t, starttls, implicit, nil)
		},
		badGreet: "* BYE too many connections\r\n",
	},
}

func mailTarget(port int) *Target {
	return &Target{URL: "127.0.0.1", Port: port, VerifySSL: true}
}

func TestMailUp(t *testing.T) {
	cert := newMailCert(t)
	for _, k := range mailKinds {
		cases := []struct {
			name     string
			port     int
			starttls *tls.Config
			implicit *tls.Config
			wantTLS  bool
		}{
			{"cleartext", k.plainPort, nil, nil, false},
			{"starttls", k.plainPort, cert.server(), nil, true},
			{"implicit-tls", k.tlsPort, nil, cert.server(), true},
		}
		for _, c := range cases {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				addr, _ := k.serve(t, c.starttls, c.implicit)
				env, d := mailTestEnv(cert, c.port, addr)
				var r Result
				k.probe(context.Background(), mailTarget(c.port), env, &r)
				if !r.Up || r.Err != "" {
					t.Fatalf("want up, got down: %q", r.Err)
				}
				if got, want := d.calls(), []string{"127.0.0.1:" + strconv.Itoa(c.port)}; len(got) != 1 || got[0] != want[0] {
					t.Errorf("dialed %v, want %v", got, want)
				}
				if r.StatusCode != k.statusCode {
					t.Errorf("StatusCode = %d, want %d", r.StatusCode, k.statusCode)
				}
				if r.DNS != 0 {
					t.Errorf("DNS = %v for an IP literal, want 0", r.DNS)
				}
				if r.Connect <= 0 || r.FirstByte <= 0 || r.Total < r.FirstByte {
					t.Errorf("phases Connect=%v FirstByte=%v Total=%v", r.Connect, r.FirstByte, r.Total)
				}
				if c.wantTLS {
					if r.TLS <= 0 {
						t.Errorf("TLS phase = %v, want > 0", r.TLS)
					}
					if !r.CertNotAfter.Equal(cert.notAfter) {
						t.Errorf("CertNotAfter = %v, want %v", r.CertNotAfter, cert.notAfter)
					}
				} else if r.TLS != 0 || !r.CertNotAfter.IsZero() {
					t.Errorf("cleartext session reported TLS=%v CertNotAfter=%v", r.TLS, r.CertNotAfter)
				}
			})
		}
	}
}

func TestMailServerStopped(t *testing.T) {
	for _, k := range mailKinds {
		t.Run(k.name, func(t *testing.T) {
			addr, stop := k.serve(t, nil, nil)
			stop()
			env, _ := mailTestEnv(nil, k.plainPort, addr)
			var r Result
			k.probe(context.Background(), mailTarget(k.plainPort), env, &r)
			if r.Up || !strings.Contains(r.Err, "connect") {
				t.Fatalf("want down on connect, got up=%v err=%q", r.Up, r.Err)
			}
			t.Log(r.Err)
			if r.FirstByte != 0 {
				t.Errorf("FirstByte = %v with no connection", r.FirstByte)
			}
		})
	}
}

func TestMailNegativeGreeting(t *testing.T) {
	for _, k := range mailKinds {
		t.Run(k.name, func(t *testing.T) {
			addr := mailServeScript(t, k.badGreet)
			env, _ := mailTestEnv(nil, k.plainPort, addr)
			var r Result
			k.probe(context.Background(), mailTarget(k.plainPort), env, &r)
			if r.Up || !strings.Contains(r.Err, "greeting") {
				t.Fatalf("want down on greeting, got up=%v err=%q", r.Up, r.Err)
			}
			t.Log(r.Err)
			if r.FirstByte <= 0 {
				t.Errorf("FirstByte = %v, the greeting did arrive", r.FirstByte)
			}
		})
	}
	t.Run("smtp-code", func(t *testing.T) {
		addr := mailServeScript(t, "554 no service\r\n")
		env, _ := mailTestEnv(nil, 25, addr)
		var r Result
		probeSMTP(context.Background(), mailTarget(25), env, &r)
		if r.Up || r.StatusCode != 554 {
			t.Fatalf("want down with 554, got up=%v code=%d err=%q", r.Up, r.StatusCode, r.Err)
		}
	})
	t.Run("imap-bye-from-server", func(t *testing.T) {
		addr, _ := serveIMAP(t, nil, nil, func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "shutting down"}
		})
		env, _ := mailTestEnv(nil, 143, addr)
		var r Result
		probeIMAP(context.Background(), mailTarget(143), env, &r)
		if r.Up || !strings.Contains(r.Err, "BYE") {
			t.Fatalf("want down on BYE, got up=%v err=%q", r.Up, r.Err)
		}
	})
}

func TestMailPortNotAllowed(t *testing.T) {
	for _, k := range mailKinds {
		t.Run(k.name, func(t *testing.T) {
			env, d := mailTestEnv(nil, k.badPort, "127.0.0.1:1")
			var r Result
			k.probe(context.Background(), mailTarget(k.badPort), env, &r)
			if r.Up || !strings.Contains(r.Err, "not allowed") {
				t.Fatalf("want down for port %d, got up=%v err=%q", k.badPort, r.Up, r.Err)
			}
			t.Log(r.Err)
			if calls := d.calls(); len(calls) != 0 {
				t.Errorf("dialed %v for a refused port", calls)
			}
		})
	}
}

func TestMailNoGreeting(t *testing.T) {
	for _, k := range mailKinds {
		for _, port := range []int{k.plainPort, k.tlsPort} {
			t.Run(k.name+"/"+strconv.Itoa(port), func(t *testing.T) {
				addr := mailServeScript(t, "")
				env, _ := mailTestEnv(nil, port, addr)
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				var r Result
				k.probe(ctx, mailTarget(port), env, &r)
				if r.Up || !strings.Contains(r.Err, context.DeadlineExceeded.Error()) {
					t.Fatalf("want down on deadline, got up=%v err=%q", r.Up, r.Err)
				}
				t.Log(r.Err)
				if r.FirstByte != 0 {
					t.Errorf("FirstByte = %v, nothing arrived", r.FirstByte)
				}
			})
		}
	}
}

func TestMailCertVerification(t *testing.T) {
	cert := newMailCert(t)
	for _, k := range mailKinds {
		for _, mode := range []string{"starttls", "implicit-tls"} {
			t.Run(k.name+"/"+mode, func(t *testing.T) {
				starttls, implicit, port := cert.server(), (*tls.Config)(nil), k.plainPort
				if mode == "implicit-tls" {
					starttls, implicit, port = nil, cert.server(), k.tlsPort
				}
				addr, _ := k.serve(t, starttls, implicit)

				// Without the test root the certificate is unknown: verified,
				// the probe fails; unverified, it passes and still reports
				// the expiry.
				env, _ := mailTestEnv(nil, port, addr)
				var r Result
				k.probe(context.Background(), mailTarget(port), env, &r)
				if r.Up || !strings.Contains(r.Err, "certificate") {
					t.Fatalf("verify_ssl: want down on the certificate, got up=%v err=%q", r.Up, r.Err)
				}
				t.Log(r.Err)

				target := mailTarget(port)
				target.VerifySSL = false
				r = Result{}
				k.probe(context.Background(), target, env, &r)
				if !r.Up {
					t.Fatalf("no verify_ssl: want up, got %q", r.Err)
				}
				if !r.CertNotAfter.Equal(cert.notAfter) {
					t.Errorf("CertNotAfter = %v, want %v", r.CertNotAfter, cert.notAfter)
				}
			})
		}
	}
}

func TestMailResolve(t *testing.T) {
	cert := newMailCert(t)
	addr, _ := serveSMTP(t, cert.server(), nil, newSMTPTestSession)
	env, d := mailTestEnv(cert, 587, addr)
	var asked []string
	env.Resolve = func(_ context.Context, host string) ([]net.IP, error) {
		asked = append(asked, host)
		if host == "mail.test" {
			return []net.IP{net.IPv4(127, 0, 0, 1)}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}

	var r Result
	probeSMTP(context.Background(), &Target{URL: "mail.test", Port: 587, VerifySSL: true}, env, &r)
	if !r.Up {
		t.Fatalf("want up, got %q", r.Err)
	}
	if r.DNS <= 0 {
		t.Errorf("DNS = %v, want > 0", r.DNS)
	}
	if calls := d.calls(); len(calls) != 1 || calls[0] != "127.0.0.1:587" {
		t.Errorf("dialed %v", calls)
	}

	r = Result{}
	probeSMTP(context.Background(), &Target{URL: "nowhere.test", Port: 587}, env, &r)
	if r.Up || !strings.Contains(r.Err, "resolve nowhere.test") {
		t.Fatalf("want down on resolve, got up=%v err=%q", r.Up, r.Err)
	}
	if len(asked) != 2 {
		t.Errorf("resolver asked %v", asked)
	}
}

// TestMailRealClock runs with the default clock, as the engine may.
func TestMailRealClock(t *testing.T) {
	cert := newMailCert(t)
	addr, _ := serveSMTP(t, nil, cert.server(), newSMTPTestSession)
	env, _ := mailTestEnv(cert, 465, addr)
	env.Now = nil
	var r Result
	probeSMTP(context.Background(), mailTarget(465), env, &r)
	if !r.Up || r.Total < r.FirstByte {
		t.Fatalf("want up with Total >= FirstByte, got up=%v err=%q %+v", r.Up, r.Err, r)
	}
}

func TestSMTPHelloRefused(t *testing.T) {
	// go-smtp creates the session on EHLO; refusing it answers 451.
	addr, _ := serveSMTP(t, nil, nil, refuseSMTPTestSession)
	env, _ := mailTestEnv(nil, 25, addr)
	var r Result
	probeSMTP(context.Background(), mailTarget(25), env, &r)
	if r.Up || !strings.Contains(r.Err, "451") {
		t.Fatalf("want down on 451, got up=%v err=%q", r.Up, r.Err)
	}
	if r.StatusCode != 220 {
		t.Errorf("StatusCode = %d, want the greeting's 220", r.StatusCode)
	}
}

func TestSMTPStartTLSInjection(t *testing.T) {
	// A reply pipelined after "220 go ahead" arrives in clear before the
	// handshake; taking it as the TLS server's would be CVE-2011-0411.
	ln := mailListen(t, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := textproto.NewConn(c)
		_ = tc.PrintfLine("220 localhost ESMTP")
		if _, err := tc.ReadLine(); err != nil {
			return
		}
		_ = tc.PrintfLine("250-localhost\r\n250 STARTTLS")
		if _, err := tc.ReadLine(); err != nil {
			return
		}
		_ = tc.PrintfLine("220 go ahead\r\n250 injected")
		_, _ = io.Copy(io.Discard, c)
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })

	env, _ := mailTestEnv(nil, 25, ln.Addr().String())
	var r Result
	probeSMTP(context.Background(), mailTarget(25), env, &r)
	if r.Up || !strings.Contains(r.Err, "before the TLS handshake") {
		t.Fatalf("want down on injected data, got up=%v err=%q", r.Up, r.Err)
	}
}

func TestIMAPPreauth(t *testing.T) {
	user := imapmemserver.NewUser("probe", "secret")
	addr, _ := serveIMAP(t, nil, nil, func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
		return imapmemserver.NewUserSession(user), &imapserver.GreetingData{PreAuth: true}, nil
	})
	env, _ := mailTestEnv(nil, 143, addr)
	var r Result
	probeIMAP(context.Background(), mailTarget(143), env, &r)
	if !r.Up {
		t.Fatalf("want up on PREAUTH, got %q", r.Err)
	}
}

func TestMailMode(t *testing.T) {
	cases := []struct {
		proto    string
		port     int
		implicit bool
		ok       bool
	}{
		{"smtp", 25, false, true}, {"smtp", 465, true, true}, {"smtp", 587, false, true}, {"smtp", 2525, false, false},
		{"pop", 110, false, true}, {"pop", 995, true, true}, {"pop", 25, false, false},
		{"imap", 143, false, true}, {"imap", 993, true, true}, {"imap", 0, false, false},
		{"tcp", 25, false, false},
	}
	for _, c := range cases {
		implicit, err := mailMode(c.proto, c.port)
		if (err == nil) != c.ok || implicit != c.implicit {
			t.Errorf("mailMode(%q, %d) = %v, %v; want implicit=%v ok=%v", c.proto, c.port, implicit, err, c.implicit, c.ok)
		}
	}
}

func TestMailHost(t *testing.T) {
	for in, want := range map[string]string{
		"mail.example.com":          "mail.example.com",
		" mail.example.com ":        "mail.example.com",
		"smtp://mail.example.com/x": "mail.example.com",
		"[2001:db8::1]":             "2001:db8::1",
		"":                          "",
	} {
		if got := mailHost(in); got != want {
			t.Errorf("mailHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIMAPLiteralSize(t *testing.T) {
	for line, want := range map[string]int64{"* 1 FETCH (BODY {12}": 12, "* X {3+}": 3, "* OK done": -1, "* X {x}": -1} {
		n, ok := imapLiteralSize(line)
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("imapLiteralSize(%q) = %d, want %d", line, n, want)
		}
	}
}
