package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"time"

	"golang.org/x/net/publicsuffix"
)

const (
	// maxBody bounds what a keyword search reads, so a huge or endless
	// response cannot hold a probe's memory.
	maxBody = 1 << 20
	// maxRedirects matches net/http's own default and most browsers' patience.
	maxRedirects = 10
	userAgent    = "vigilo-probe/1"
)

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
	hr := t.http
	if hr == nil {
		hr = prepareHTTP(t)
	}
	if hr.err != nil {
		return hr.err
	}
	// The net/http form of the request, made only for the paths that need
	// one (HTTP/2, a redirect to follow, an answer fasthttp cannot read), and
	// then once for the whole chain: net/http's Client builds each redirect's
	// request from it (its body again through GetBody).
	var req *http.Request
	request := func() (*http.Request, error) {
		if req == nil {
			var err error
			if req, err = hr.request(ctx, t); err != nil {
				return nil, err
			}
		}
		return req, nil
	}
	tr := newTransport(ctx, env, t.VerifySSL, times, start, t.IPVersion)
	a, err := tr.fetch(hr, request)
	if err != nil {
		// Worded as net/http's Client words it, as the redirect path does.
		return &url.Error{Op: hr.op, URL: hr.shown, Err: err}
	}
	defer a.Close()
	if t.FollowRedirects && isRedirect(a.status) && a.location() != "" {
		req, err := request()
		if err != nil {
			return err
		}
		// The rest of the chain is net/http's: its Client rewrites the method,
		// keeps credentials to the same host and cookies in the jar, as
		// browsers do, starting from the answer already read.
		tr.prefetched = a.stdResponse(req)
		client := &http.Client{
			Transport: tr,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				// via holds the requests made so far: the first plus each
				// redirect followed.
				if len(via) > maxRedirects {
					return fmt.Errorf("stopped after %d redirects", maxRedirects)
				}
				return nil
			},
		}
		if t.RememberCookies {
			// A jar per probe: cookies live for one redirect chain, as a
			// first visit's would, and never leak between probes or monitors.
			client.Jar = &lazyJar{}
		}
		resp, err := client.Do(req)
		if err != nil {
			return err // *url.Error already names the method and URL
		}
		a = stdAnswer(resp)
		defer a.Close()
	}
	r.StatusCode = a.status
	if a.state != nil && len(a.state.PeerCertificates) > 0 {
		r.CertNotAfter = a.state.PeerCertificates[0].NotAfter
	}

	// The body is read even when only the status matters, so Total covers the
	// transfer and a response that breaks off midway fails the probe.
	lr := io.LimitReader(a, maxBody)
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

	code := a.status
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

// lazyJar makes its cookie jar at the first cookie a response sets. Better
// Uptime turns remember_cookies on by default, and most probes meet no cookie,
// so a jar made up front was garbage in nearly every probe.
type lazyJar struct{ jar *cookiejar.Jar }

func (l *lazyJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if len(cookies) == 0 {
		return
	}
	if l.jar == nil {
		jar, err := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
		if err != nil {
			return // documented never to happen; the chain then goes on without cookies
		}
		l.jar = jar
	}
	l.jar.SetCookies(u, cookies)
}

func (l *lazyJar) Cookies(u *url.URL) []*http.Cookie {
	if l.jar == nil {
		return nil
	}
	return l.jar.Cookies(u)
}

// isRedirect reports whether net/http's Client follows a response of code.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}
