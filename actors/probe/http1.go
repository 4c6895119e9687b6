package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"
)

// fetch makes a probe's first request, on a fresh connection, without
// net/http's Client: a probe is a single request, and the Client with its
// Response, header maps and textproto reader was about a tenth of a probe's
// CPU, its largest cost after the kernel's. The request's bytes were written
// once by net/http's Request.Write (prepareHTTP); an HTTP/1.1 answer (every
// plain-HTTP target, and every HTTPS one whose server does not pick HTTP/2 in
// ALPN) is read with fasthttp's pooled Response. HTTP/2, chunked bodies and
// headers fasthttp cannot take are read by net/http, with the request that
// request returns.
func (t *transport) fetch(hr *httpRequest, request func() (*http.Request, error)) (*answer, error) {
	if hr.hostErr != nil {
		return nil, hr.hostErr
	}
	c, err := t.dial(t.ctx, hr.host, hr.port, hr.u.Scheme == "https", func() {})
	if err != nil {
		return nil, err
	}
	if c.h2() {
		req, err := request()
		if err != nil {
			c.close()
			return nil, err
		}
		resp, err := t.roundTripH2(req, c)
		if err != nil {
			return nil, err
		}
		return stdAnswer(resp), nil
	}

	br, closeAll, err := c.send(hr.wire)
	if err != nil {
		return nil, err
	}
	a := &answer{ctx: c.ctx, state: c.state, done: closeAll}
	fail := func(err error) (*answer, error) {
		err = contextError(c.ctx, fmt.Errorf("read response: %w", err))
		a.Close()
		return nil, err
	}
	if _, err := br.Peek(1); err != nil {
		return fail(err)
	}
	t.times.gotFirstByte(envNow(t.env)().Sub(t.start))

	fr := fasthttp.AcquireResponse()
	fr.StreamBody = true
	fr.SkipBody = hr.method == http.MethodHead // its Content-Length describes a body not sent
	a.fast = fr
	if err := fr.Read(br); err != nil {
		// fasthttp only peeks until it has the whole header, so what it
		// refused is still unread in br: a header larger than the buffer (a
		// wall of cookies), or one net/http accepts and fasthttp does not
		// (bare LF line ends). net/http reads it from there, unbounded by br,
		// and words the error when there is one.
		fasthttp.ReleaseResponse(fr)
		a.fast = nil
		req, err := request()
		if err != nil {
			a.Close()
			return nil, err
		}
		resp, err := readStdResponse(bufio.NewReader(br), req)
		if err != nil {
			return fail(err)
		}
		a.std, a.status, a.body = resp, resp.StatusCode, resp.Body
		return a, nil
	}
	a.status = fr.StatusCode()
	switch a.body = fr.BodyStream(); {
	case a.body == nil: // HEAD, 204, 304: nothing follows the header
		a.body = strings.NewReader("")
	case fr.Header.ContentLength() == -1:
		// net/http's chunked reader, as fasthttp's takes a connection
		// closed between chunks for the body's end, and a truncated page
		// must fail.
		a.body = httputil.NewChunkedReader(br)
	}
	return a, nil
}

// answer is the response to one request, read by fasthttp or by net/http.
type answer struct {
	status int
	state  *tls.ConnectionState // the connection's, for https
	body   io.Reader            // net/http's Body itself when std is set
	fast   *fasthttp.Response   // when fasthttp read it
	std    *http.Response       // when net/http did
	ctx    context.Context      // the probe's, for naming its end; nil when body does
	done   func()               // closes the connection and returns the buffers
	closed bool
}

// Read reads from the body, naming the probe's deadline when that ended it.
func (a *answer) Read(p []byte) (int, error) {
	if a.closed {
		// The read buffer went back to its pool with the connection.
		return 0, errors.New("probe: read on a closed response body")
	}
	n, err := a.body.Read(p)
	if err != nil && err != io.EOF && a.ctx != nil {
		err = contextError(a.ctx, err)
	}
	return n, err
}

// Close releases the answer and its connection; it may be called again.
func (a *answer) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	if c, ok := a.body.(io.Closer); ok && a.std != nil {
		c.Close() // not std.Body, which may be a itself (closeWithBody)
	}
	if a.fast != nil {
		a.fast.CloseBodyStream()
		fasthttp.ReleaseResponse(a.fast)
		a.fast = nil
	}
	if a.done != nil {
		a.done()
	}
	return nil
}

// location is the answer's Location header.
func (a *answer) location() string {
	if a.fast != nil {
		return string(a.fast.Header.Peek("Location"))
	}
	return a.std.Header.Get("Location")
}

// stdResponse is a as net/http's Client takes it, to follow a redirect from:
// closing its Body closes a.
func (a *answer) stdResponse(req *http.Request) *http.Response {
	if a.std != nil {
		resp := *a.std
		resp.Request, resp.TLS, resp.Body = req, a.state, a
		return &resp
	}
	h := make(http.Header)
	for k, v := range a.fast.Header.All() {
		h.Add(string(k), string(v))
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", a.status, a.fast.Header.StatusMessage()), StatusCode: a.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: a, ContentLength: -1,
		Close: true, Request: req, TLS: a.state,
	}
}

// stdAnswer wraps a response net/http read (over HTTP/2, or along a redirect
// chain).
func stdAnswer(resp *http.Response) *answer {
	return &answer{status: resp.StatusCode, state: resp.TLS, body: resp.Body, std: resp}
}

// httpRequest is an HTTP target's request, settled once (Target.Prepare).
type httpRequest struct {
	err    error    // why no probe of the target can be made; then nothing else is set
	u      *url.URL // the target's URL; never changed, requests get a copy
	method string
	// host and port are where the request goes, or hostErr why it cannot:
	// a probe's error then, worded as net/http's Client words it.
	host    string
	port    int
	hostErr error
	// wire is the request as net/http's Request.Write renders it, with
	// Connection: close, so every probe sends the bytes net/http would.
	wire []byte
	// op and shown name the request in a probe's error as net/http's
	// Client does ("Get", the URL with a password shown as ***).
	op, shown string
}

// httpType reports whether a monitor_type is one of the HTTP ones.
func httpType(monitorType string) bool {
	switch monitorType {
	case "status", "expected_status_code", "keyword", "keyword_absence":
		return true
	}
	return false
}

// prepareHTTP settles t's request, or why it cannot be made: configuration
// errors are found before touching the network, so a monitor that can never
// pass says why rather than what the target answered.
func prepareHTTP(t *Target) *httpRequest {
	hr, err := settleHTTP(t)
	if err != nil {
		return &httpRequest{err: err}
	}
	return hr
}

func settleHTTP(t *Target) (*httpRequest, error) {
	u, err := url.Parse(strings.TrimSpace(t.URL))
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", t.URL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q: no host", t.URL)
	}
	switch t.Type {
	case "status":
	case "expected_status_code":
		if len(t.ExpectedStatusCodes) == 0 {
			return nil, errors.New("expected_status_code: no expected status codes")
		}
	case "keyword", "keyword_absence":
		if t.RequiredKeyword == "" {
			return nil, fmt.Errorf("%s: no required keyword", t.Type)
		}
	default:
		return nil, fmt.Errorf("monitor type %q is not an HTTP type", t.Type)
	}
	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	if err := checkRequest(t, method); err != nil {
		return nil, err
	}
	hr := &httpRequest{u: u, method: method, op: method[:1] + strings.ToLower(method[1:]), shown: u.String()}
	hr.host, hr.port, hr.hostErr = hostPort(u)
	if _, ok := u.User.Password(); ok {
		hr.shown = strings.Replace(hr.shown, u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	req, err := hr.request(context.Background(), t)
	if err != nil {
		return nil, err
	}
	req.Close = true
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	hr.wire = wire.Bytes()
	return hr, nil
}

// request is hr as a net/http request bounded by ctx, for the paths net/http
// takes.
func (hr *httpRequest) request(ctx context.Context, t *Target) (*http.Request, error) {
	u := *hr.u
	return newRequest(ctx, t, &u, hr.method)
}

// newRequest is the probe's request to u.
func newRequest(ctx context.Context, tg *Target, u *url.URL, method string) (*http.Request, error) {
	var body io.Reader
	if tg.Body != "" {
		body = strings.NewReader(tg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	for k, v := range tg.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if tg.BasicAuthUser != "" || tg.BasicAuthPassword != "" {
		req.SetBasicAuth(tg.BasicAuthUser, tg.BasicAuthPassword)
	} else if ui := u.User; ui != nil && req.Header.Get("Authorization") == "" {
		// Credentials in the URL, as net/http's Client sends them.
		password, _ := ui.Password()
		req.SetBasicAuth(ui.Username(), password)
	}
	return req, nil
}

// checkRequest refuses what no request may carry: a method that is not a
// token, and header names or values that would split the request. The API
// refuses them too; this guards every other way a target is made.
func checkRequest(tg *Target, method string) error {
	if !httpguts.ValidHeaderFieldName(method) {
		return fmt.Errorf("request: invalid method %q", method)
	}
	for k, v := range tg.Headers {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("request: invalid header name %q", k)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("request: invalid value for header %q", k)
		}
	}
	return nil
}
