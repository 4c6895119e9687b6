package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// transport is the http.RoundTripper of the HTTP prober and the RDAP client: every
// request on a fresh connection of its own, dialled through env, as a
// first-time visitor makes it.
//
// It is not http.Transport because a probe never reuses a connection, and
// http.Transport's pooling costs three goroutines and their channels per
// connection; at thousands of probes a second that was a quarter of the CPU.
// Here an HTTP/1.1 exchange runs on the caller's goroutine with net/http's own
// wire format (Request.Write, ReadResponse). Only a TLS server that picks HTTP/2
// in ALPN is handed, already connected, to an http.Transport for its framing.
type transport struct {
	ctx    context.Context // the probe's: it ends dials, handshakes and reads
	env    *Env
	verify bool
	times  *httpTimes
	start  time.Time // the probe's, which first byte is timed from
	family string    // Target.IPVersion
	// prefetched, if set, is the answer to the first request, already read
	// by fetch: a redirect whose chain net/http's Client follows from there.
	prefetched *http.Response
}

// httpTimes collects the phases of every hop. The HTTP/2 path's trace hooks
// run on the transport's goroutines, so it is written under a lock.
type httpTimes struct {
	mu                           sync.Mutex
	dns, connect, tls, firstByte time.Duration
}

func (t *httpTimes) add(dns, connect, tls time.Duration) {
	t.mu.Lock()
	t.dns += dns
	t.connect += connect
	t.tls += tls // summed: each redirect hop has a handshake of its own
	t.mu.Unlock()
}

func (t *httpTimes) gotFirstByte(since time.Duration) {
	t.mu.Lock()
	t.firstByte = since // overwritten per hop: the response that counts is the last
	t.mu.Unlock()
}

func newTransport(ctx context.Context, env *Env, verify bool, times *httpTimes, start time.Time, family string) *transport {
	return &transport{ctx: ctx, env: env, verify: verify, times: times, start: start, family: family}
}

// probeConn is one fresh connection of a probe, dialled and, for https,
// handshaken.
type probeConn struct {
	net.Conn
	ctx   context.Context      // what ends it: its deadline is the connection's
	state *tls.ConnectionState // nil for plain HTTP
	stop  func() bool          // detaches ctx's watch on the connection
	// release ends what RoundTrip derived from a request's context.
	release func()
}

// close closes the connection and ends what watched it.
func (c *probeConn) close() {
	c.stop()
	c.Conn.Close()
	c.release()
}

// fail closes c and returns err, naming ctx's end when that is the cause.
func (c *probeConn) fail(err error) error {
	err = contextError(c.ctx, err)
	c.close()
	return err
}

// writeRequest writes req on c with net/http's Request.Write and returns a
// pooled reader on c for the answer, and closeAll, which closes c and returns
// the reader. On error c is closed.
func (c *probeConn) writeRequest(req *http.Request) (br *bufio.Reader, closeAll func(), err error) {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(c)
	err = req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writers.Put(bw)
	if err != nil {
		return nil, nil, c.fail(fmt.Errorf("write request: %w", err))
	}
	br, closeAll = c.reader()
	return br, closeAll, nil
}

// send is writeRequest for a request already in its wire form.
func (c *probeConn) send(wire []byte) (br *bufio.Reader, closeAll func(), err error) {
	if _, err := c.Write(wire); err != nil {
		return nil, nil, c.fail(fmt.Errorf("write request: %w", err))
	}
	br, closeAll = c.reader()
	return br, closeAll, nil
}

// reader is a pooled reader on c, and what closes c and returns it.
func (c *probeConn) reader() (*bufio.Reader, func()) {
	br := readers.Get().(*bufio.Reader)
	br.Reset(c)
	return br, func() {
		c.close()
		br.Reset(nil)
		readers.Put(br)
	}
}

// h2 reports whether the TLS server picked HTTP/2.
func (c *probeConn) h2() bool { return c.state != nil && c.state.NegotiatedProtocol == "h2" }

// dial connects to host:port for one request bounded by ctx, and completes
// the TLS handshake when https, timing each phase into t.times. release is
// called when the connection closes, or at once when dial fails.
func (t *transport) dial(ctx context.Context, host string, port int, https bool, release func()) (*probeConn, error) {
	now := envNow(t.env)
	var dns, connect, handshake time.Duration
	c, err := dialHost(ctx, t.env, "tcp", host, t.family, port, &dns, &connect)
	if err != nil {
		t.times.add(dns, connect, 0)
		release()
		return nil, err
	}
	// Reads and writes are plain blocking calls: the context ends them
	// through the connection's deadline.
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	pc := &probeConn{Conn: c, ctx: ctx, release: release}
	pc.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	if https {
		tc := tls.Client(c, t.tlsConfig(host))
		start := now()
		err := tc.HandshakeContext(ctx)
		handshake = now().Sub(start)
		t.times.add(dns, connect, handshake)
		if err != nil {
			return nil, pc.fail(fmt.Errorf("tls handshake with %s: %w", host, err))
		}
		st := tc.ConnectionState()
		pc.Conn, pc.state = tc, &st
		return pc, nil
	}
	t.times.add(dns, connect, 0)
	return pc, nil
}

// RoundTrip makes one request on a new connection; the response's Body closes
// it. The first call returns t.prefetched instead when it is set.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if p := t.prefetched; p != nil {
		t.prefetched = nil
		if req.Body != nil {
			req.Body.Close()
		}
		p.Request = req
		return p, nil
	}
	// RoundTrip owns the body, even on error; Request.Write closes it, and
	// the HTTP/2 transport too.
	bodyOwned := req.Body != nil
	defer func() {
		if bodyOwned {
			req.Body.Close()
		}
	}()
	host, port, err := hostPort(req.URL)
	if err != nil {
		return nil, err
	}
	// The request's context is the probe's (the HTTP prober's requests), or
	// one the probe's must also bound (the RDAP client's).
	ctx, release := req.Context(), func() {}
	if ctx != t.ctx {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		stopProbe := context.AfterFunc(t.ctx, cancel)
		release = func() { stopProbe(); cancel() }
	}
	c, err := t.dial(ctx, host, port, req.URL.Scheme == "https", release)
	if err != nil {
		return nil, err
	}
	if c.h2() {
		bodyOwned = false
		return t.roundTripH2(req.WithContext(ctx), c)
	}

	// HTTP/1.1. Connection: close, as the connection is never reused.
	out := *req
	out.Close = true
	bodyOwned = false // Request.Write closes it
	br, closeAll, err := c.writeRequest(&out)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*http.Response, error) {
		err = contextError(ctx, fmt.Errorf("read response: %w", err))
		closeAll()
		return nil, err
	}
	if _, err := br.Peek(1); err != nil {
		return fail(err)
	}
	t.times.gotFirstByte(envNow(t.env)().Sub(t.start))
	resp, err := readStdResponse(br, &out)
	if err != nil {
		return fail(err)
	}
	resp.Request = req
	resp.TLS = c.state
	closeWithBody(resp, ctx, closeAll)
	return resp, nil
}

// readStdResponse reads a response with net/http, passing over informational
// answers (103 Early Hints) that precede the real one.
func readStdResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// Buffers are pooled: a probe's exchange is one short request and a header, and
// two fresh 4 KiB buffers per probe were most of its garbage.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// roundTripH2 runs req over c, a TLS connection that negotiated HTTP/2, with a
// single-use http.Transport that dials nothing but c.
func (t *transport) roundTripH2(req *http.Request, pc *probeConn) (*http.Response, error) {
	pc.stop() // the HTTP/2 transport watches the request's context itself
	var c net.Conn = pc.Conn
	var once sync.Once
	tr := &http.Transport{
		Proxy: nil,
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			var out net.Conn
			once.Do(func() { out = c })
			if out == nil {
				return nil, errors.New("probe: one connection per request")
			}
			return out, nil
		},
		ForceAttemptHTTP2: true,
		DisableKeepAlives: true,
	}
	closeAll := func() {
		tr.CloseIdleConnections()
		c.Close()
		pc.release()
	}
	now := envNow(t.env)
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { t.times.gotFirstByte(now().Sub(t.start)) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		closeAll()
		return nil, err
	}
	closeWithBody(resp, req.Context(), closeAll)
	return resp, nil
}

func (t *transport) tlsConfig(host string) *tls.Config {
	var conf *tls.Config
	if t.env.TLS != nil {
		conf = t.env.TLS.Clone()
	} else {
		conf = &tls.Config{}
	}
	conf.ServerName = host
	conf.InsecureSkipVerify = !t.verify
	// HTTP/2 first, as browsers offer it; a server that cannot, answers 1.1.
	conf.NextProtos = []string{"h2", "http/1.1"}
	return conf
}

// closeWithBody makes resp's body an answer: closing it runs closeAll, and a
// read that fails because ctx ended says so.
func closeWithBody(resp *http.Response, ctx context.Context, closeAll func()) {
	a := stdAnswer(resp)
	a.ctx, a.done = ctx, closeAll
	resp.Body = a
}

// contextError names ctx's end as the cause of err when it is: "i/o timeout",
// or a parser's own timeout error, would hide which deadline it was. The
// connection's deadline is only ever ctx's, and the poller may see it pass a
// moment before ctx's own timer fires, so once the deadline is past, the
// error waits for ctx to say so.
func contextError(ctx context.Context, err error) error {
	if d, ok := ctx.Deadline(); (ok && !time.Now().Before(d)) || errors.Is(err, os.ErrDeadlineExceeded) {
		<-ctx.Done()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// hostPort is where a request to u goes: its host and port, the scheme's
// port by default.
func hostPort(u *url.URL) (string, int, error) {
	if u == nil || u.Host == "" {
		return "", 0, errors.New("request has no host")
	}
	host, portStr := u.Hostname(), u.Port()
	if portStr == "" {
		switch u.Scheme {
		case "http":
			portStr = "80"
		case "https":
			portStr = "443"
		default:
			return "", 0, fmt.Errorf("unsupported scheme %q", u.Scheme)
		}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}
