package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxBody bounds what a keyword search reads, so a huge or endless
	// response cannot hold a probe's memory.
	maxBody = 1 << 20
	// maxRedirects matches net/http's own default and most browsers' patience.
	maxRedirects = 10
	userAgent    = "vigilo-probe/1"
)

// httpTimes collects phases from httptrace hooks and the dialer. They run on the
// transport's goroutines, and an abandoned dial may finish after the probe has
// returned, so they write here under a lock rather than into the Result.
type httpTimes struct {
	mu                           sync.Mutex
	dns, connect, tls, firstByte time.Duration
	tlsStart                     time.Time
}

// probeHTTP serves the four HTTP monitor types, which share the request and
// differ only in what response passes.
func probeHTTP(ctx context.Context, t *Target, env *Env, r *Result) {
	*r = Result{}
	now := envNow(env)
	start := now()
	defer func() { r.Total = now().Sub(start) }()

	var times httpTimes
	defer func() {
		times.mu.Lock()
		r.DNS, r.Connect, r.TLS, r.FirstByte = times.dns, times.connect, times.tls, times.firstByte
		times.mu.Unlock()
	}()

	if err := doHTTP(ctx, t, env, r, &times, start); err != nil {
		r.Err = err.Error()
		return
	}
	r.Up = true
}

// doHTTP makes the request and judges the response, returning why it failed.
func doHTTP(ctx context.Context, t *Target, env *Env, r *Result, times *httpTimes, start time.Time) error {
	if env == nil || env.Dial == nil {
		return errNoDial
	}
	u, err := url.Parse(strings.TrimSpace(t.URL))
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: scheme must be http or https", t.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: no host", t.URL)
	}
	// Settle configuration errors before touching the network, so a monitor
	// that can never pass says why rather than what the target answered.
	switch t.Type {
	case "status":
	case "expected_status_code":
		if len(t.ExpectedStatusCodes) == 0 {
			return errors.New("expected_status_code: no expected status codes")
		}
	case "keyword", "keyword_absence":
		if t.RequiredKeyword == "" {
			return fmt.Errorf("%s: no required keyword", t.Type)
		}
	default:
		return fmt.Errorf("monitor type %q is not an HTTP type", t.Type)
	}

	now := envNow(env)
	tr := newHTTPTransport(ctx, env, t.VerifySSL, times)
	// With keep-alives off nothing is idle, but this also cancels a dial the
	// transport left running after ctx ended.
	defer tr.CloseIdleConnections()

	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if !t.FollowRedirects {
				return http.ErrUseLastResponse
			}
			// via holds the requests made so far: the first plus each
			// redirect followed.
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}

	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if t.Body != "" {
		body = strings.NewReader(t.Body)
	}
	trace := &httptrace.ClientTrace{
		TLSHandshakeStart: func() {
			times.mu.Lock()
			times.tlsStart = now()
			times.mu.Unlock()
		},
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			times.mu.Lock()
			// Summed: each redirect hop is a fresh connection with its own handshake.
			times.tls += now().Sub(times.tlsStart)
			times.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			times.mu.Lock()
			// Overwritten per hop: the response that counts is the last one.
			times.firstByte = now().Sub(start)
			times.mu.Unlock()
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u.String(), body)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	for k, v := range t.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if t.BasicAuthUser != "" || t.BasicAuthPassword != "" {
		req.SetBasicAuth(t.BasicAuthUser, t.BasicAuthPassword)
	}

	resp, err := client.Do(req)
	if err != nil {
		return err // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	r.StatusCode = resp.StatusCode
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.CertNotAfter = resp.TLS.PeerCertificates[0].NotAfter
	}

	// The body is read even when only the status matters, so Total covers the
	// transfer and a response that breaks off midway fails the probe.
	lr := io.LimitReader(resp.Body, maxBody)
	var got []byte
	keyword := t.Type == "keyword" || t.Type == "keyword_absence"
	if keyword {
		got, err = io.ReadAll(lr)
	} else {
		_, err = io.Copy(io.Discard, lr)
	}
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}

	code := resp.StatusCode
	ok2xx := code >= 200 && code <= 299
	switch t.Type {
	case "status":
		if !ok2xx {
			return fmt.Errorf("status %d", code)
		}
	case "expected_status_code":
		if !slices.Contains(t.ExpectedStatusCodes, code) {
			return fmt.Errorf("status %d not in %v", code, t.ExpectedStatusCodes)
		}
	case "keyword":
		if !ok2xx {
			return fmt.Errorf("status %d", code)
		}
		if !bytes.Contains(got, []byte(t.RequiredKeyword)) {
			return fmt.Errorf("keyword %q not found in the first %d bytes", t.RequiredKeyword, len(got))
		}
	case "keyword_absence":
		if !ok2xx {
			return fmt.Errorf("status %d", code)
		}
		if bytes.Contains(got, []byte(t.RequiredKeyword)) {
			return fmt.Errorf("keyword %q found", t.RequiredKeyword)
		}
	}
	return nil
}

// newHTTPTransport builds the per-probe transport: a fresh connection every
// time, as a visitor would make, dialled through env so the engine's
// destination policy applies to every redirect hop too.
func newHTTPTransport(probeCtx context.Context, env *Env, verify bool, times *httpTimes) *http.Transport {
	var tlsConf *tls.Config
	if env.TLS != nil {
		tlsConf = env.TLS.Clone()
	} else {
		tlsConf = &tls.Config{}
	}
	// ServerName stays empty: the transport fills it per hop from the URL, and
	// a redirect may lead to another host.
	tlsConf.InsecureSkipVerify = !verify

	return &http.Transport{
		// No proxy from the environment: a probe measures the target, and a
		// proxy would also sidestep the dialer's destination policy.
		Proxy:             nil,
		DialContext:       httpDialer(probeCtx, env, times),
		TLSClientConfig:   tlsConf,
		DisableKeepAlives: true,
		ForceAttemptHTTP2: true,
	}
}

// httpDialer resolves through env.Resolve and dials through env.Dial, timing
// both itself: httptrace's DNS and connect hooks only fire from net.Dialer,
// which env.Dial need not be.
func httpDialer(probeCtx context.Context, env *Env, times *httpTimes) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		// The transport detaches dials from the request's cancellation so a
		// connection can be pooled; a probe never pools, so it ends the dial
		// with the probe.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(probeCtx, cancel)
		defer stop()

		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: bad port: %w", addr, err)
		}
		var dns, connect time.Duration
		c, err := dialHost(ctx, env, network, host, port, &dns, &connect)
		times.mu.Lock()
		times.dns += dns
		times.connect += connect
		times.mu.Unlock()
		return c, err
	}
}
