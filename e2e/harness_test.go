package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigilo-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vigilo")
	build := exec.Command("go", "build", "-o", binary, "../cmd/vigilo")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vigilo:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	apiKey   = "rw_key_0123456789abcdefghijklmnop" // 32 characters, as Healthchecks.io keys
	roKey    = "ro_key_0123456789abcdefghijklmnop"
	adminKey = "admin-secret"
)

// server is one running bin/vigilo.
type server struct {
	t    *testing.T
	url  string
	addr string
	data string
	args []string
	env  []string // extra environment for the child
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	handedMu.Lock()
	defer handedMu.Unlock()
	// The kernel may hand a port just closed out again: a cluster's six
	// addresses once had two alike, and the second node could not listen.
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handed[addr] {
			handed[addr] = true
			return addr
		}
	}
	t.Fatal("no port not handed out before")
	return ""
}

// handed is every address freeAddr gave out in this process.
var (
	handedMu sync.Mutex
	handed   = map[string]bool{}
)

// start runs the binary on a fresh port and data dir (or the given one) with
// --min-period 1s and the test keys, and waits until /healthz answers.
func start(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	s := &server{t: t, data: data, addr: freeAddr(t)}
	s.url = "http://" + s.addr
	s.args = append([]string{"serve", "--listen", s.addr, "--data", data, "--min-period", "1s",
		"--api-key", apiKey, "--read-only-key", roKey, "--admin-key", adminKey}, extra...)
	s.launch()
	t.Cleanup(s.stop)
	return s
}

func (s *server) launch() {
	s.t.Helper()
	s.spawn()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-s.done:
			s.t.Fatalf("vigilo exited before serving: %v\n%s", err, s.out)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("vigilo did not serve within 30s\n%s", s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spawn starts the process without waiting for it to serve (a cluster node
// answers /healthz 200 only once a leader is elected, which takes two).
func (s *server) spawn() {
	s.t.Helper()
	s.out = &syncBuffer{}
	s.cmd = exec.Command(binary, s.args...)
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(s.cmd, s.done)
}

// kill9 kills the server with SIGKILL and waits for it to be gone.
func (s *server) kill9() {
	s.t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		s.t.Fatal(err)
	}
	<-s.done
	s.done = nil
}

// restart starts the same server again on the same data dir and address.
func (s *server) restart() { s.launch() }

func (s *server) stop() {
	if s.done == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.done = nil
	if s.t.Failed() {
		s.t.Logf("server output:\n%s", s.out)
	}
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends a request and returns the status and body.
func call(t *testing.T, method, url string, headers map[string]string, body string) (int, []byte) {
	t.Helper()
	code, _, b := request(t, method, url, headers, body)
	return code, b
}

// request sends a request and returns the status, headers and body.
func request(t *testing.T, method, url string, headers map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// api calls the Healthchecks API with key and decodes a JSON answer into out (if
// non-nil), failing the test on an unexpected status.
func (s *server) api(method, path, key, body string, want int, out any) []byte {
	s.t.Helper()
	h := map[string]string{}
	if key != "" {
		h["X-Api-Key"] = key
	}
	code, b := call(s.t, method, s.url+path, h, body)
	if code != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return b
}

// ping GETs a ping URL path and returns status and body text.
func (s *server) ping(path string) (int, string) {
	s.t.Helper()
	code, b := call(s.t, "GET", s.url+path, nil, "")
	return code, string(b)
}

type check struct {
	UUID         string  `json:"uuid"`
	Name         string  `json:"name"`
	Slug         *string `json:"slug"`
	Tags         string  `json:"tags"`
	Status       string  `json:"status"`
	Started      *bool   `json:"started"`
	NPings       int     `json:"n_pings"`
	LastPing     *string `json:"last_ping"`
	NextPing     *string `json:"next_ping"`
	Timeout      int     `json:"timeout"`
	Grace        int     `json:"grace"`
	Schedule     string  `json:"schedule"`
	TZ           string  `json:"tz"`
	PingURL      *string `json:"ping_url"`
	UpdateURL    *string `json:"update_url"`
	Channels     *string `json:"channels"`
	UniqueKey    string  `json:"unique_key"`
	ManualResume bool    `json:"manual_resume"`
	LastDuration int     `json:"last_duration"`
}

type flip struct {
	Timestamp string `json:"timestamp"`
	Up        int    `json:"up"`
}

func (f flip) time(t *testing.T) time.Time {
	tm, err := time.Parse(time.RFC3339, f.Timestamp)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// waitStatus polls the check until it has status want, and fails after limit.
func (s *server) waitStatus(id, want string, limit time.Duration) check {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var c check
		s.api("GET", "/api/v3/checks/"+id, apiKey, "", 200, &c)
		if c.Status == want {
			return c
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("check %s: status %q, still not %q after %v", id, c.Status, want, limit)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (s *server) create(key, body string) check {
	s.t.Helper()
	var c check
	s.api("POST", "/api/v3/checks/", key, body, 201, &c)
	return c
}

// waitFlips polls the check's flips until there are n, and fails after 10s.
func (s *server) waitFlips(id string, n int) []flip {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var flips []flip
		s.api("GET", "/api/v3/checks/"+id+"/flips/", apiKey, "", 200, &flips)
		if len(flips) >= n {
			if len(flips) > n {
				s.t.Fatalf("check %s: %d flips, want %d: %+v", id, len(flips), n, flips)
			}
			return flips
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("check %s: %d flips, want %d", id, len(flips), n)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
