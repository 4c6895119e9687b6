package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
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

	client := &http.Client{
		Transport: newTransport(ctx, env, t.VerifySSL, times, start, t.IPVersion),
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
	if t.RememberCookies && t.FollowRedirects {
		// A jar per probe: cookies live for one redirect chain, as a first
		// visit's would, and never leak between probes or monitors.
		client.Jar = &lazyJar{}
	}

	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if t.Body != "" {
		body = strings.NewReader(t.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
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
