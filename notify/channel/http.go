package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"weak"
)

// maxResponseBody is how much of an answer is read: enough to let the
// connection be reused and to quote the receiver's complaint, never more,
// whatever the receiver sends.
const maxResponseBody = 64 << 10

// clients caches one HTTP client per Env, so that deliveries through the same
// Env share keep-alive connections. The key is weak, and a cleanup drops the
// entry and its idle connections when the Env is collected, so callers that
// make an Env per call do not leak clients.
var clients = struct {
	sync.Mutex
	m map[weak.Pointer[Env]]*http.Client
}{m: make(map[weak.Pointer[Env]]*http.Client)}

func (e *Env) httpClient() *http.Client {
	key := weak.Make(e)
	clients.Lock()
	defer clients.Unlock()
	if c, ok := clients.m[key]; ok {
		return c
	}
	c := newHTTPClient(e)
	clients.m[key] = c
	runtime.AddCleanup(e, dropClient, key)
	return c
}

func dropClient(key weak.Pointer[Env]) {
	clients.Lock()
	c := clients.m[key]
	delete(clients.m, key)
	clients.Unlock()
	if c != nil {
		c.CloseIdleConnections()
	}
}

func newHTTPClient(e *Env) *http.Client {
	var tlsConf = e.tlsConfig("")
	t := &http.Transport{
		// No proxy from the environment: a proxy would be the only address
		// Dial ever sees, and the destination would go unchecked.
		Proxy:                 nil,
		DialContext:           e.Dial,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: t,
		// A redirect would turn a POST into a GET and carry the credentials
		// headers to wherever it points; a receiver that moved must be
		// reconfigured instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// request is one HTTP delivery.
type request struct {
	kind    string // for error messages: "slack", "webhook", ...
	method  string
	url     string
	header  http.Header // set after the defaults, so it may override Content-Type and User-Agent
	body    []byte      // nil: no body
	ctype   string      // Content-Type of body
	idemKey string
}

// do sends r and classifies the answer: a 2xx is success, a 4xx other than
// 408 and 429 is permanent, anything else may succeed on a later attempt.
func do(ctx context.Context, env *Env, r request) (int, error) {
	u, err := url.Parse(r.url)
	if err != nil {
		return 0, fmt.Errorf("%s: bad URL: %w", r.kind, ErrPermanent)
	}
	what := fmt.Sprintf("%s %s %s", r.kind, strings.ToLower(r.method), u.Host)

	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, errors.Join(err, ErrPermanent))
	}
	req.Header.Set("User-Agent", env.userAgent())
	if r.body != nil && r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.idemKey != "" {
		req.Header.Set("Idempotency-Key", r.idemKey)
	}

	resp, err := env.httpClient().Do(req)
	if err != nil {
		// *url.Error repeats the whole URL, and channel URLs (Slack's above
		// all) carry their secret in the path: keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(resp.Body, head)
	head = head[:n]
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody-int64(n)))

	code := resp.StatusCode
	if code >= 200 && code <= 299 {
		return code, nil
	}
	detail := quoteBody(head)
	if code >= 300 && code <= 399 {
		detail = " (redirects are not followed; configure the final URL)"
	}
	if code >= 400 && code <= 499 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests {
		return code, fmt.Errorf("%s: HTTP %d%s: %w", what, code, detail, ErrPermanent)
	}
	return code, fmt.Errorf("%s: HTTP %d%s", what, code, detail)
}

// quoteBody renders the start of a response body for an error message.
func quoteBody(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return ""
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return fmt.Sprintf(" %q", truncate(s, 200))
}

// parseURL checks a configured URL: present, absolute, http or https.
func parseURL(kind, key, s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("%s: %q is required", kind, key)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a valid URL", kind, key)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: %q must be an http or https URL", kind, key)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%s: %q has no host", kind, key)
	}
	return u, nil
}
