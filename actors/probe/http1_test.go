package probe

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The first request of a probe is written and read by fetch (fasthttp's wire
// types), not by net/http; these tests pin what a target sees and what the
// probe makes of the answers net/http used to read.

// TestHTTPWireRequest: the request fetch writes is the one net/http wrote:
// the probe's User-Agent, Connection: close, the target's headers in
// canonical form, no Content-Type of its own, and user framing headers ignored.
func TestHTTPWireRequest(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		got <- req
	})
	wantUp(t, probeURL(t, &Target{Type: "status", URL: srv.URL + "/p/a%20b?q=1&r=%2F", Method: "PUT", Body: "hello",
		Headers: map[string]string{"x-lower": "v", "Content-Length": "999", "Transfer-Encoding": "chunked"}}, testEnv()))
	req := <-got
	body, _ := io.ReadAll(req.Body)
	switch {
	case req.Method != "PUT" || req.RequestURI != "/p/a%20b?q=1&r=%2F":
		t.Errorf("request line %s %s, want PUT /p/a%%20b?q=1&r=%%2F", req.Method, req.RequestURI)
	case req.UserAgent() != userAgent || !req.Close:
		t.Errorf("User-Agent %q, Close %v; want %q and true", req.UserAgent(), req.Close, userAgent)
	case req.Header.Get("X-Lower") != "v":
		t.Errorf("headers %v, want X-Lower: v", req.Header)
	case string(body) != "hello" || req.ContentLength != 5 || len(req.TransferEncoding) != 0:
		t.Errorf("body %q, length %d, transfer encoding %v; want hello framed by Content-Length 5",
			body, req.ContentLength, req.TransferEncoding)
	case req.Header.Get("Content-Type") != "":
		t.Errorf("Content-Type %q added, want none", req.Header.Get("Content-Type"))
	}

	// A user's User-Agent replaces the probe's.
	wantUp(t, probeURL(t, &Target{Type: "status", URL: srv.URL, Headers: map[string]string{"User-Agent": "mine"}}, testEnv()))
	if req := <-got; req.UserAgent() != "mine" {
		t.Errorf("User-Agent %q, want the target's", req.UserAgent())
	}
}

// TestHTTPRefusesSplitting: a header that would split the request fails the
// probe before any connection is made.
func TestHTTPRefusesSplitting(t *testing.T) {
	var hits atomic.Int64
	srv := httpServer(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	for _, tg := range []Target{
		{Type: "status", URL: srv.URL, Headers: map[string]string{"X-A": "v\r\nX-Injected: 1"}},
		{Type: "status", URL: srv.URL, Headers: map[string]string{"X A": "v"}},
		{Type: "status", URL: srv.URL, Method: "GET /x HTTP/1.1\r\n"},
	} {
		r := probeURL(t, &tg, testEnv())
		wantDown(t, r)
		if !strings.Contains(r.Err, "invalid") {
			t.Errorf("Err = %q, want the invalid part named", r.Err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server, want 0", n)
	}
}

// TestHTTPHead: a HEAD answer's Content-Length describes a body that is not
// sent; the probe must not wait for it.
func TestHTTPHead(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Length", "1000")
		if req.Method != http.MethodHead {
			w.Write(make([]byte, 1000))
		}
	})
	r := run(probeCtx(t, 5*time.Second), probeHTTP, &Target{Type: "status", URL: srv.URL, Method: http.MethodHead}, testEnv())
	wantUp(t, r)
}

// TestHTTPBodyFraming: a keyword is found whatever frames the body: chunks,
// or no length at all, the body ending with the connection.
func TestHTTPBodyFraming(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/chunked":
			io.WriteString(w, "first part, ")
			w.(http.Flusher).Flush() // no Content-Length is known now: chunked
			io.WriteString(w, "needle in the second")
		case "/close":
			c, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody up to the close, needle last")
			rw.Flush()
		}
	})
	for _, path := range []string{"/chunked", "/close"} {
		wantUp(t, probeURL(t, &Target{Type: "keyword", URL: srv.URL + path, RequiredKeyword: "needle"}, testEnv()))
		wantDown(t, probeURL(t, &Target{Type: "keyword", URL: srv.URL + path, RequiredKeyword: "absent"}, testEnv()))
	}
}

// TestHTTPLargeHeader: a response header larger than the read buffer is read
// by net/http from where fasthttp stopped, with and without a redirect.
func TestHTTPLargeHeader(t *testing.T) {
	big := strings.Repeat("x", 20<<10)
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Big", big)
		if req.URL.Path == "/moved" {
			http.Redirect(w, req, "/", http.StatusFound)
			return
		}
		io.WriteString(w, "needle")
	})
	for _, path := range []string{"/", "/moved"} {
		r := probeURL(t, &Target{Type: "keyword", URL: srv.URL + path, FollowRedirects: true, RequiredKeyword: "needle"}, testEnv())
		wantUp(t, r)
		wantHTTPPhases(t, r)
	}
}

// TestHTTPRedirectMethods: the chain after the first answer follows
// net/http's rules: 307 and 308 repeat the method and body, 301, 302 and 303
// turn a POST into a GET without one.
func TestHTTPRedirectMethods(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		switch req.URL.Path {
		case "/307", "/308", "/303", "/302":
			code := map[string]int{"/307": 307, "/308": 308, "/303": 303, "/302": 302}[req.URL.Path]
			http.Redirect(w, req, "/end", code)
		case "/end":
			io.WriteString(w, req.Method+" "+string(body))
		}
	})
	for path, want := range map[string]string{"/307": "POST data", "/308": "POST data", "/303": "GET ", "/302": "GET "} {
		r := probeURL(t, &Target{Type: "keyword", URL: srv.URL + path, Method: "POST", Body: "data",
			FollowRedirects: true, RequiredKeyword: want}, testEnv())
		if !r.Up {
			t.Errorf("%s: want %q at the end, got down: %s", path, want, r.Err)
		}
	}
}

// TestHTTPMalformedAnswer: a reply that is not HTTP fails the probe and says
// why, rather than passing or hanging.
func TestHTTPMalformedAnswer(t *testing.T) {
	r := probeURL(t, &Target{Type: "status", URL: rawServer(t, "SSH-2.0-OpenSSH_9.6\r\n", false)}, testEnv())
	wantDown(t, r)
	if !strings.Contains(r.Err, "read response") {
		t.Errorf("Err = %q, want the response named", r.Err)
	}
}

// rawServer answers every connection with reply once it has read the request
// head, then closes it (or stalls, when stall is set, until the test ends).
func rawServer(t *testing.T, reply string, stall bool) string {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	addr := serveTCP(t, func(c net.Conn) {
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
			}
			io.WriteString(c, reply)
			if stall {
				<-done
			}
		}()
	})
	return "http://" + addr.String() + "/"
}

// TestHTTPTruncatedChunks: a chunked body cut off by the connection's close
// fails the probe, even when the keyword came before the cut.
func TestHTTPTruncatedChunks(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nneedle\r\n", false)
	r := probeURL(t, &Target{Type: "keyword", URL: url, RequiredKeyword: "needle"}, testEnv())
	wantDown(t, r)
	if !strings.Contains(r.Err, "unexpected EOF") {
		t.Errorf("Err = %q, want the truncation named", r.Err)
	}
}

// TestHTTPBareLF: a response with bare LF line ends, as some devices and
// netcat health checks send, passes as net/http read it.
func TestHTTPBareLF(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 200 OK\nContent-Length: 6\n\nneedle", false)
	wantUp(t, probeURL(t, &Target{Type: "keyword", URL: url, RequiredKeyword: "needle"}, testEnv()))
}

// TestHTTPStallAfterInterim: a 1xx then silence times out with the deadline
// named exactly as before, not a parser's own timeout.
func TestHTTPStallAfterInterim(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n", true)
	for range 5 {
		r := run(probeCtx(t, 100*time.Millisecond), probeHTTP, &Target{Type: "status", URL: url}, testEnv())
		wantDown(t, r)
		if !strings.HasSuffix(r.Err, `": context deadline exceeded`) {
			t.Fatalf("Err = %q, want it to end with the deadline", r.Err)
		}
	}
}

// TestHTTPURLCredentials: user:password in the URL is sent as basic auth, as
// net/http's Client sends it, unless the target sets its own.
func TestHTTPURLCredentials(t *testing.T) {
	srv := httpServer(t, func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != "ops" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	withCreds := strings.Replace(srv.URL, "http://", "http://ops:pw@", 1)
	wantUp(t, probeURL(t, &Target{Type: "status", URL: withCreds}, testEnv()))
	wantDown(t, probeURL(t, &Target{Type: "status", URL: withCreds, BasicAuthUser: "ops", BasicAuthPassword: "other"}, testEnv()))
}

// TestHTTPCookieHeaderVerbatim: a Cookie header the user sets reaches the
// target byte for byte.
func TestHTTPCookieHeaderVerbatim(t *testing.T) {
	const cookie = `j="eyJ"; b="x y"; k=v`
	got := make(chan string, 1)
	srv := httpServer(t, func(_ http.ResponseWriter, req *http.Request) { got <- req.Header.Get("Cookie") })
	wantUp(t, probeURL(t, &Target{Type: "status", URL: srv.URL, Headers: map[string]string{"Cookie": cookie}}, testEnv()))
	if c := <-got; c != cookie {
		t.Errorf("Cookie %q, want %q", c, cookie)
	}
}

// TestHTTPErrorHidesPassword: a failed probe's error names the URL as
// net/http's Client does, with the password starred out.
func TestHTTPErrorHidesPassword(t *testing.T) {
	withCreds := strings.Replace(rawServer(t, "not http\r\n", false), "http://", "http://ops:s3cret@", 1)
	r := probeURL(t, &Target{Type: "status", URL: withCreds}, testEnv())
	wantDown(t, r)
	if strings.Contains(r.Err, "s3cret") || !strings.Contains(r.Err, "ops:***@") {
		t.Errorf("Err = %q, want the password starred out", r.Err)
	}
}

// TestHTTPPrepared: a prepared target sends, probe after probe, the bytes an
// unprepared one sends (its body each time), follows redirects as one does,
// and keeps a configuration error as the probe's.
func TestHTTPPrepared(t *testing.T) {
	raw := make(chan string, 4)
	addr := serveTCP(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		var got strings.Builder
		req.Write(&got) // canonical: the header map in sorted order
		raw <- got.String()
		if req.URL.Path == "/from" {
			io.WriteString(c, "HTTP/1.1 302 Found\r\nLocation: /to\r\nContent-Length: 0\r\n\r\n")
		} else {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	base := "http://user:secret@" + addr.String()
	newTarget := func() *Target {
		return &Target{Type: "status", URL: base + "/p?q=1", Method: "POST", Body: "hello",
			Headers: map[string]string{"X-A": "1", "Host": "example.test"}}
	}
	wantUp(t, probeURL(t, newTarget(), testEnv()))
	want := <-raw
	prepared := newTarget()
	prepared.Prepare()
	if prepared.http == nil || prepared.http.err != nil {
		t.Fatalf("Prepare: %+v", prepared.http)
	}
	for i := range 2 {
		wantUp(t, probeURL(t, prepared, testEnv()))
		if got := <-raw; got != want {
			t.Errorf("probe %d of the prepared target sent\n%q\nwant\n%q", i, got, want)
		}
	}
	if !strings.Contains(want, "hello") || !strings.Contains(want, "Host: example.test") || !strings.Contains(want, "Authorization: Basic") {
		t.Errorf("request %q lacks the body, the Host or the URL's credentials", want)
	}

	redirect := &Target{Type: "status", URL: "http://" + addr.String() + "/from", FollowRedirects: true}
	redirect.Prepare()
	wantUp(t, probeURL(t, redirect, testEnv()))
	if from, to := <-raw, <-raw; !strings.HasPrefix(from, "GET /from ") || !strings.HasPrefix(to, "GET /to ") {
		t.Errorf("redirect chain %q then %q, want GET /from then GET /to", from, to)
	}

	badPort := &Target{Type: "status", URL: "http://127.0.0.1:99999/x"}
	badPort.Prepare()
	if r := probeURL(t, badPort, testEnv()); r.Up || r.Err != `Get "http://127.0.0.1:99999/x": bad port "99999"` {
		t.Errorf("prepared target with port 99999: Up %v, Err %q", r.Up, r.Err)
	}

	bad := &Target{Type: "keyword", URL: base}
	bad.Prepare()
	for range 2 {
		if r := probeURL(t, bad, testEnv()); r.Up || r.Err != "keyword: no required keyword" {
			t.Errorf("prepared keyword target without a keyword: Up %v, Err %q", r.Up, r.Err)
		}
	}
	select {
	case got := <-raw:
		t.Errorf("the misconfigured target reached the server: %q", got)
	default:
	}
}
