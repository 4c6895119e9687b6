package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The smtp, pop and imap probers share one shape: connect, read the greeting,
// ask for capabilities, upgrade with STARTTLS when offered and ask again, then
// say goodbye. Each protocol supplies its four exchanges in a mailProto; the
// connection handling, the TLS upgrade and the timing live here once.

// mailProto is one mail protocol's side of a probe.
type mailProto struct {
	name string // monitor_type: smtp, pop, imap
	// greet reads the greeting and fails unless it is positive.
	greet func(s *mailSession) error
	// caps asks for the capabilities and says whether STARTTLS is among them.
	caps func(s *mailSession) (startTLS bool, err error)
	// startTLS asks the server to start TLS; the handshake is mail.go's.
	startTLS func(s *mailSession) error
	// quit ends the session politely.
	quit func(s *mailSession) error
}

// mailPorts are the ports each mail monitor type may use, as Better Uptime
// allows them, and whether TLS starts with the connection (RFC 8314) rather
// than after STARTTLS.
var mailPorts = map[string]map[int]bool{
	"smtp": {25: false, 465: true, 587: false},
	"pop":  {110: false, 995: true},
	"imap": {143: false, 993: true},
}

// mailMode says whether proto on port speaks TLS from the first byte, and
// refuses a port the monitor type does not allow.
func mailMode(proto string, port int) (implicitTLS bool, err error) {
	ports, ok := mailPorts[proto]
	if !ok {
		return false, fmt.Errorf("unknown mail protocol %q", proto)
	}
	implicitTLS, ok = ports[port]
	if !ok {
		allowed := make([]string, 0, len(ports))
		for p := range ports {
			allowed = append(allowed, strconv.Itoa(p))
		}
		slices.Sort(allowed)
		return false, fmt.Errorf("port %d is not allowed (allowed: %s)", port, strings.Join(allowed, ", "))
	}
	return implicitTLS, nil
}

// mailReadLimit caps the bytes read from one connection, so a broken or
// hostile server streaming an endless line cannot grow the probe's memory: a
// greeting and a capability list are a few hundred bytes.
const mailReadLimit = 256 << 10

var errMailTooLong = errors.New("server sent more than the probe reads")

type mailCappedReader struct {
	r    io.Reader
	left int64
}

func (c *mailCappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errMailTooLong
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// mailSession is one probe's connection and what the protocols need of it.
type mailSession struct {
	ctx    context.Context
	target *Target
	env    *Env
	res    *Result
	now    func() time.Time
	host   string
	conn   net.Conn // the TCP connection, or the TLS one over it
	text   *textproto.Reader
	w      *textproto.Writer
	tag    int // last IMAP command tag number
}

func (s *mailSession) setConn(c net.Conn) {
	s.conn = c
	s.text = textproto.NewReader(bufio.NewReader(&mailCappedReader{r: c, left: mailReadLimit}))
	s.w = textproto.NewWriter(bufio.NewWriter(c))
}

// cmd sends one command line.
func (s *mailSession) cmd(format string, args ...any) error {
	if err := s.w.PrintfLine(format, args...); err != nil {
		return fmt.Errorf("send %s: %w", strings.Fields(format)[0], err)
	}
	return nil
}

// upgradeTLS runs the TLS handshake over the current connection and records
// its time and the leaf certificate's expiry.
func (s *mailSession) upgradeTLS() error {
	// Bytes already buffered were sent in clear before the handshake: after
	// STARTTLS they would be taken as coming from the TLS peer, the response
	// injection of CVE-2011-0411, so the probe refuses them.
	if s.text != nil && s.text.R.Buffered() > 0 {
		return errors.New("server sent data before the TLS handshake")
	}
	cfg := &tls.Config{}
	if s.env.TLS != nil {
		cfg = s.env.TLS.Clone()
	}
	cfg.ServerName = s.host
	cfg.InsecureSkipVerify = !s.target.VerifySSL
	tc := tls.Client(s.conn, cfg)
	began := s.now()
	if err := tc.HandshakeContext(s.ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	s.res.TLS = s.now().Sub(began)
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		s.res.CertNotAfter = certs[0].NotAfter
	}
	s.setConn(tc)
	return nil
}

// mailHost takes the host out of a monitor url, tolerating the brackets of an
// IPv6 literal and a scheme some users type in front of the host.
func mailHost(raw string) string {
	h := strings.TrimSpace(raw)
	if _, rest, ok := strings.Cut(h, "://"); ok {
		h = rest
	}
	if i := strings.IndexAny(h, "/?#"); i >= 0 {
		h = h[:i]
	}
	if strings.HasPrefix(h, "[") {
		if end := strings.Index(h, "]"); end > 0 {
			return h[1:end]
		}
	}
	return h
}

// mailQuote shortens and quotes a server line for an error message, so a
// server cannot flood the stored reason.
func mailQuote(line string) string {
	const limit = 120
	if len(line) > limit {
		line = line[:limit] + "..."
	}
	return strconv.Quote(line)
}

// probeMail is the smtp, pop and imap prober, with p the protocol's part.
func probeMail(ctx context.Context, t *Target, env *Env, r *Result, p *mailProto) {
	now := envNow(env)
	start := now()
	defer func() { r.Total = now().Sub(start) }()
	if err := runMail(ctx, t, env, r, p, now, start); err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			// The deadline set on the connection surfaces as an i/o timeout;
			// say what really ended the probe.
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
		r.Up = false
		r.Err = fmt.Sprintf("%s: %v", p.name, err)
		return
	}
	r.Up = true
	r.Err = ""
}

func runMail(ctx context.Context, t *Target, env *Env, r *Result, p *mailProto, now func() time.Time, start time.Time) error {
	implicitTLS, err := mailMode(p.name, t.Port)
	if err != nil {
		return err
	}
	if env.Dial == nil {
		return errors.New("no dialer configured")
	}
	host := mailHost(t.URL)
	if host == "" {
		return errors.New("no host to connect to")
	}

	// Every resolved address is tried in turn, as for tcp and udp: a name with
	// both an IPv6 and an IPv4 address is up if the server listens on either.
	conn, err := dialHost(ctx, env, "tcp", host, t.IPVersion, t.Port, &r.DNS, &r.Connect)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	// Reads and writes take no context: a deadline in the past unblocks them
	// the moment ctx is done, whether by timeout or by cancellation.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	s := &mailSession{ctx: ctx, target: t, env: env, res: r, now: now, host: host}
	s.setConn(conn)
	if implicitTLS {
		if err := s.upgradeTLS(); err != nil {
			return err
		}
	}

	if _, err := s.text.R.Peek(1); err != nil {
		return fmt.Errorf("waiting for greeting: %w", err)
	}
	r.FirstByte = now().Sub(start)
	if err := p.greet(s); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}

	offered, err := p.caps(s)
	if err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	if offered && !implicitTLS {
		if err := p.startTLS(s); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
		if err := s.upgradeTLS(); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
		if _, err := p.caps(s); err != nil {
			return fmt.Errorf("capabilities over TLS: %w", err)
		}
	}
	if err := p.quit(s); err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return nil
}
