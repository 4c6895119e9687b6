package channel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/wneessen/go-mail"
)

// Email sends a plain-text message through an SMTP submission server.
type Email struct {
	Host string `json:"host"`
	// Port defaults to 465 with TLS "tls" and to 587 otherwise.
	Port int `json:"port,omitempty"`
	// TLS is "starttls" (STARTTLS required; the default), "tls" (implicit
	// TLS; the default on port 465) or "none".
	TLS string `json:"tls,omitempty"`
	// Username and Password, when set, authenticate with AUTH PLAIN or LOGIN.
	Username string   `json:"username,omitempty"`
	Password string   `json:"password,omitempty"`
	From     string   `json:"from"`
	To       []string `json:"to"`
}

// Kind implements Config.
func (*Email) Kind() string { return "email" }

// TLS modes of an Email channel.
const (
	EmailSTARTTLS = "starttls"
	EmailTLS      = "tls"
	EmailNoTLS    = "none"
)

// maxRecipients bounds "to": an alert channel is not a mailing list.
const maxRecipients = 50

// defaultSMTPTimeout bounds an SMTP exchange whose ctx has no deadline.
const defaultSMTPTimeout = 30 * time.Second

func parseEmail(raw []byte) (Config, error) {
	e := new(Email)
	if err := decodeStrict("email", raw, e); err != nil {
		return nil, err
	}
	e.Host = strings.TrimSpace(e.Host)
	if e.Host == "" {
		return nil, errors.New(`email: "host" is required`)
	}
	if !validHost(e.Host) {
		return nil, errors.New(`email: "host" must be a host name or an IP address, without a port`)
	}
	if e.Port < 0 || e.Port > 65535 {
		return nil, errors.New(`email: "port" must be between 1 and 65535`)
	}
	e.TLS = strings.ToLower(strings.TrimSpace(e.TLS))
	if e.TLS == "" {
		e.TLS = EmailSTARTTLS
		if e.Port == 465 {
			e.TLS = EmailTLS
		}
	}
	switch e.TLS {
	case EmailSTARTTLS, EmailTLS, EmailNoTLS:
	default:
		return nil, errors.New(`email: "tls" must be one of starttls, tls, none`)
	}
	if e.Port == 0 {
		e.Port = 587
		if e.TLS == EmailTLS {
			e.Port = 465
		}
	}
	if (e.Username == "") != (e.Password == "") {
		return nil, errors.New(`email: "username" and "password" must be set together`)
	}
	if e.From == "" {
		return nil, errors.New(`email: "from" is required`)
	}
	if _, err := netmail.ParseAddress(e.From); err != nil {
		return nil, fmt.Errorf(`email: "from" is not a valid address: %q`, e.From)
	}
	if len(e.To) == 0 {
		return nil, errors.New(`email: "to" is required (a list of addresses)`)
	}
	if len(e.To) > maxRecipients {
		return nil, fmt.Errorf(`email: "to" has more than %d addresses`, maxRecipients)
	}
	for _, to := range e.To {
		if _, err := netmail.ParseAddress(to); err != nil {
			return nil, fmt.Errorf(`email: "to" has an invalid address: %q`, to)
		}
	}
	return e, nil
}

// validHost accepts a DNS name or an IP literal (IPv6 with or without
// brackets), and rejects what would smuggle a port or a path into the dial.
func validHost(h string) bool {
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); ip != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// oneLine makes s safe for a header: control characters, line breaks above
// all, become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func emailSubject(m Message) string {
	return fmt.Sprintf("[vigilo] %s: %s", eventWord(m.Event), truncate(oneLine(displayName(m.Check)), 150))
}

func emailBody(m Message) string {
	c := m.Check
	var b strings.Builder
	switch m.Event {
	case EventUp:
		fmt.Fprintf(&b, "The check %q is now UP.\n\n", displayName(c))
	case EventTest:
		fmt.Fprintf(&b, "This is a test notification from vigilo for the check %q.\n\n", displayName(c))
	default:
		fmt.Fprintf(&b, "The check %q is DOWN.\n\n", displayName(c))
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-13s %s\n", k+":", v)
		}
	}
	line("Name", c.Name)
	line("UUID", c.UUID)
	line("Slug", c.Slug)
	line("Status", c.Status)
	line("Tags", strings.Join(c.Tags, " "))
	line("Changed at", rfc3339(m.FlipAt))
	lastPing := "never"
	if !c.LastPing.IsZero() {
		lastPing = rfc3339(c.LastPing)
	}
	line("Last ping", lastPing)
	if c.Desc != "" {
		fmt.Fprintf(&b, "\n%s\n", c.Desc)
	}
	fmt.Fprintf(&b, "\n-- \nvigilo notification %s\n", m.ID)
	return b.String()
}

func buildEmail(env *Env, e *Email, m Message) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(e.From); err != nil {
		return nil, fmt.Errorf(`"from": %w`, err)
	}
	if err := msg.To(e.To...); err != nil {
		return nil, fmt.Errorf(`"to": %w`, err)
	}
	msg.Subject(emailSubject(m))
	if m.ID != "" {
		id := oneLine(m.ID)
		msg.SetMessageIDWithValue(id + "@vigilo")
		msg.SetGenHeader("X-Idempotency-Key", id)
	} else {
		msg.SetMessageID()
	}
	msg.SetDate()
	msg.SetUserAgent(oneLine(env.userAgent()))
	msg.SetBodyString(mail.TypeTextPlain, emailBody(m))
	return msg, nil
}

func sendEmail(ctx context.Context, env *Env, e *Email, m Message) (int, error) {
	port := e.Port
	if port == 0 {
		port = 587
		if e.TLS == EmailTLS {
			port = 465
		}
	}
	host := strings.TrimSuffix(strings.TrimPrefix(e.Host, "["), "]")
	what := "email smtp " + net.JoinHostPort(host, strconv.Itoa(port))

	msg, err := buildEmail(env, e, m)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, errors.Join(err, ErrPermanent))
	}

	// go-mail bounds each SMTP command by its own timeout, not by ctx: every
	// connection is closed when ctx ends, so a server that stops answering
	// cannot hold Send past its deadline.
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
	)
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, c := range conns {
			_ = c.Close()
		}
	}
	tlsMode := e.TLS
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		c, err := env.Dial(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, c)
		late := closed
		mu.Unlock()
		if late {
			_ = c.Close()
			return nil, context.Cause(ctx)
		}
		if tlsMode != EmailTLS {
			return c, nil
		}
		// go-mail does implicit TLS only with its own dialer; over ours it is
		// done here. It must return the *tls.Conn itself: go-mail decides
		// from the connection's type whether AUTH may send a password.
		tc := tls.Client(c, env.tlsConfig(host))
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return tc, nil
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer stop()
	defer closeAll()

	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	timeout := defaultSMTPTimeout
	if dl, ok := ctx.Deadline(); ok {
		// go-mail's own deadline is only a backstop, set past ctx's: were it
		// to fire first, Send would report an i/o timeout instead of ctx's
		// error.
		timeout = time.Until(dl) + time.Second
	}

	opts := []mail.Option{
		mail.WithPort(port),
		mail.WithTimeout(timeout),
		mail.WithDialContextFunc(dial),
		mail.WithTLSConfig(env.tlsConfig(host)),
	}
	switch e.TLS {
	case EmailTLS:
		opts = append(opts, mail.WithSSL())
	case EmailNoTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if e.Username != "" {
		plain, login := mail.SMTPAuthPlain, mail.SMTPAuthLogin
		if e.TLS == EmailNoTLS {
			// The user chose a connection without TLS (an internal relay);
			// go-mail would otherwise refuse to send the password over it.
			plain, login = mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc
		}
		opts = append(opts,
			mail.WithOpportunisticSMTPAuth(plain, login),
			mail.WithUsername(e.Username),
			mail.WithPassword(e.Password))
	}
	client, err := mail.NewClient(host, opts...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, errors.Join(err, ErrPermanent))
	}

	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return smtpFailure(ctx, what, err)
	}
	if err := client.SendWithSMTPClient(sc, msg); err != nil {
		return smtpFailure(ctx, what, err)
	}
	// The server took the message with its 250 to the end of DATA; a failing
	// QUIT after that changes nothing for the recipient.
	_ = client.CloseWithSMTPClient(sc)
	return 250, nil
}

// smtpFailure classifies a failed exchange: the reply code when the server
// gave one, permanent for a 5xx, and ctx's error first when ctx is what ended
// it (closing the connections makes everything else fail too).
func smtpFailure(ctx context.Context, what string, err error) (int, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return 0, fmt.Errorf("%s: %w: %w", what, ctxErr, err)
	}
	code := smtpCode(err)
	if code >= 500 && code <= 599 {
		return code, fmt.Errorf("%s: %w: %w", what, err, ErrPermanent)
	}
	return code, fmt.Errorf("%s: %w", what, err)
}

func smtpCode(err error) int {
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}
