package channel_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vigilo/vigilo/netguard"
	"github.com/vigilo/vigilo/notify/channel"
)

// mail is one message as the SMTP server received it.
type mail struct {
	From   string
	To     []string
	Data   []byte
	User   string // who authenticated, "" for nobody
	TLS    bool   // whether the session was encrypted when DATA came
	Header netmail.Header
	Body   string // decoded
}

// smtpServer is a real SMTP server (go-smtp) on loopback whose backend
// records every message.
type smtpServer struct {
	addr string
	pool *x509.CertPool

	user, pass string          // when set, AUTH PLAIN is offered and required
	rcptErr    *smtp.SMTPError // when set, every RCPT TO is refused with it

	mu  sync.Mutex
	got []mail
}

// startSMTP starts a server. mode is "none" (plain), "starttls" (offers
// STARTTLS) or "tls" (implicit TLS).
func startSMTP(t *testing.T, mode string, configure func(*smtpServer)) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	if configure != nil {
		configure(s)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = mode == "none"
	srv.ErrorLog = discardLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode != "none" {
		cert, pool := selfSigned(t)
		s.pool = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
		if mode == "tls" {
			ln = tls.NewListener(ln, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	s.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return s
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type session struct {
	srv  *smtpServer
	conn *smtp.Conn
	from string
	to   []string
	user string
}

func (s *session) AuthMechanisms() []string {
	if s.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.srv.user || password != s.srv.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptErr != nil {
		return s.srv.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, mail{From: s.from, To: s.to, Data: data, User: s.user, TLS: isTLS})
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// one returns the single message the server got, parsed.
func (s *smtpServer) one(t *testing.T) mail {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != 1 {
		t.Fatalf("SMTP server got %d messages, want 1", len(s.got))
	}
	m := s.got[0]
	parsed, err := netmail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, m.Data)
	}
	m.Header = parsed.Header
	var body io.Reader = parsed.Body
	if strings.EqualFold(parsed.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	m.Body = string(b)
	return m
}

func (s *smtpServer) config(t *testing.T, tlsMode string, extra string) channel.Config {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	raw := `{"host": "` + host + `", "port": ` + port + `, "tls": "` + tlsMode + `", ` +
		`"from": "vigilo@example.com", "to": ["ops@example.com", "Oncall <oncall@example.com>"]` + extra + `}`
	return parse(t, "email", raw)
}

func (s *smtpServer) env(t *testing.T) *channel.Env {
	t.Helper()
	e := env(t)
	if s.pool != nil {
		e.TLS = &tls.Config{RootCAs: s.pool}
	}
	return e
}

func TestEmail(t *testing.T) {
	for _, tc := range []struct {
		name, server, client string
		auth                 bool
		wantTLS              bool
	}{
		{"none", "none", "none", false, false},
		{"none with auth", "none", "none", true, false},
		{"starttls", "starttls", "starttls", false, true},
		{"starttls with auth", "starttls", "starttls", true, true},
		{"implicit tls", "tls", "tls", false, true},
		{"implicit tls with auth", "tls", "tls", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSMTP(t, tc.server, func(s *smtpServer) {
				if tc.auth {
					s.user, s.pass = "alerts", "pa55"
				}
			})
			extra := ""
			if tc.auth {
				extra = `, "username": "alerts", "password": "pa55"`
			}
			m := message("down")
			status, err := send(t, s.env(t), s.config(t, tc.client, extra), m)
			if err != nil || status != 250 {
				t.Fatalf("Send = %d, %v; want 250, nil", status, err)
			}
			got := s.one(t)
			if got.From != "vigilo@example.com" {
				t.Errorf("MAIL FROM %q", got.From)
			}
			if strings.Join(got.To, ",") != "ops@example.com,oncall@example.com" {
				t.Errorf("RCPT TO %v", got.To)
			}
			if got.TLS != tc.wantTLS {
				t.Errorf("encrypted = %v, want %v", got.TLS, tc.wantTLS)
			}
			if wantUser := map[bool]string{true: "alerts"}[tc.auth]; got.User != wantUser {
				t.Errorf("authenticated as %q, want %q", got.User, wantUser)
			}
			dec := new(mime.WordDecoder)
			subject, err := dec.DecodeHeader(got.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			if subject != `[vigilo] DOWN: Nightly "backup" <db>` {
				t.Errorf("Subject %q", subject)
			}
			if id := got.Header.Get("Message-ID"); id != "<"+m.ID+"@vigilo>" {
				t.Errorf("Message-ID %q", id)
			}
			if k := got.Header.Get("X-Idempotency-Key"); k != m.ID {
				t.Errorf("X-Idempotency-Key %q", k)
			}
			if from := got.Header.Get("From"); !strings.Contains(from, "vigilo@example.com") {
				t.Errorf("From header %q", from)
			}
			if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
			for _, want := range []string{
				`The check "Nightly \"backup\" <db>" is DOWN.`,
				"UUID:         " + m.Check.UUID,
				"Slug:         nightly-backup",
				"Tags:         prod db",
				"Changed at:   2026-03-04T05:06:07.89Z",
				"Last ping:    2026-03-04T04:01:02Z",
				"Runs at 02:00.",
			} {
				if !strings.Contains(got.Body, want) {
					t.Errorf("body lacks %q:\n%s", want, got.Body)
				}
			}
		})
	}
}

func TestEmailUpSubject(t *testing.T) {
	s := startSMTP(t, "none", nil)
	if _, err := send(t, s.env(t), s.config(t, "none", ""), message("up")); err != nil {
		t.Fatal(err)
	}
	got := s.one(t)
	if subject, _ := new(mime.WordDecoder).DecodeHeader(got.Header.Get("Subject")); subject != `[vigilo] UP: Nightly "backup" <db>` {
		t.Errorf("Subject %q", subject)
	}
	if !strings.Contains(got.Body, "is now UP.") {
		t.Errorf("body %s", got.Body)
	}
}

func TestEmailRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rcptErr   *smtp.SMTPError
		password  string
		status    int
		permanent bool
	}{
		{"mailbox unavailable", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, "pa55", 550, true},
		{"greylisted", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try later"}, "pa55", 451, false},
		{"wrong password", nil, "wrong", 535, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSMTP(t, "starttls", func(s *smtpServer) {
				s.user, s.pass, s.rcptErr = "alerts", "pa55", tc.rcptErr
			})
			cfg := s.config(t, "starttls", `, "username": "alerts", "password": "`+tc.password+`"`)
			status, err := send(t, s.env(t), cfg, message("down"))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if status != tc.status || errors.Is(err, channel.ErrPermanent) != tc.permanent {
				t.Errorf("Send = %d, %v; want %d, permanent %v", status, err, tc.status, tc.permanent)
			}
		})
	}
}

// With "starttls" the message must not go out in the clear when the server
// offers no STARTTLS.
func TestEmailRequiresSTARTTLS(t *testing.T) {
	s := startSMTP(t, "none", nil)
	_, err := send(t, s.env(t), s.config(t, "starttls", ""), message("down"))
	if err == nil {
		t.Fatal("Send succeeded over a server without STARTTLS")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) != 0 {
		t.Errorf("server got %d messages", len(s.got))
	}
}

// The certificate is checked: an Env that does not trust it fails.
func TestEmailUntrustedCertificate(t *testing.T) {
	for _, mode := range []string{"starttls", "tls"} {
		s := startSMTP(t, mode, nil)
		if _, err := send(t, env(t), s.config(t, mode, ""), message("down")); err == nil {
			t.Errorf("%s: Send succeeded with an untrusted certificate", mode)
		}
	}
}

// A server that accepts the connection and never says a word: Send returns
// when ctx ends.
func TestEmailServerNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	cfg := &channel.Email{Host: "127.0.0.1", Port: p, TLS: "none", From: "a@example.com", To: []string{"b@example.com"}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	status, err := channel.Send(ctx, env(t), cfg, message("down"))
	if status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %d, %v; want 0, DeadlineExceeded", status, err)
	}
}

func TestEmailDenyPrivate(t *testing.T) {
	s := startSMTP(t, "none", nil)
	g, err := netguard.New(netguard.Options{DenyPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	status, err := send(t, &channel.Env{Dial: g.DialContext}, s.config(t, "none", ""), message("down"))
	if status != 0 || !errors.Is(err, netguard.ErrDenied) {
		t.Fatalf("Send = %d, %v; want 0, ErrDenied", status, err)
	}
}
