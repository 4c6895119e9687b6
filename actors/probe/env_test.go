package probe

import (
	"context"
	"testing"
	"time"

	"github.com/vigilo/vigilo/netguard"
)

// testEnv dials for real through the engine's own dialer with no destination
// policy, as a developer's engine would with --deny-private-targets off.
func testEnv() *Env {
	g, err := netguard.New(netguard.Options{})
	if err != nil {
		panic(err) // the zero Options are valid
	}
	return &Env{Dial: g.DialContext}
}

// probeCtx bounds a probe the way the monitor actor does. The timeout is only
// a backstop for probes expected to finish; tests never measure against it.
func probeCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// run probes t and returns the result.
func run(ctx context.Context, p Prober, t *Target, env *Env) Result {
	var r Result
	p(ctx, t, env, &r)
	return r
}

// wantUp fails unless r passed with the phases every probe has.
func wantUp(t *testing.T, r Result) {
	t.Helper()
	if !r.Up || r.Err != "" {
		t.Fatalf("want up, got down: Err=%q result=%+v", r.Err, r)
	}
	if r.Total <= 0 {
		t.Errorf("Total = %v, want > 0", r.Total)
	}
}

// wantDown fails unless r failed with a reason.
func wantDown(t *testing.T, r Result) {
	t.Helper()
	if r.Up {
		t.Fatalf("want down, got up: %+v", r)
	}
	if r.Err == "" {
		t.Errorf("down without Err: %+v", r)
	}
}

func TestLookup(t *testing.T) {
	for _, typ := range []string{"status", "expected_status_code", "keyword", "keyword_absence", "ping", "tcp", "udp", "smtp", "pop", "imap"} {
		if p, ok := Lookup(typ); !ok || p == nil {
			t.Errorf("Lookup(%q) = _, %v, want a prober", typ, ok)
		}
	}
	for _, typ := range []string{"", "heartbeat", "STATUS"} {
		if _, ok := Lookup(typ); ok {
			t.Errorf("Lookup(%q) found a prober", typ)
		}
	}
}

func TestNoDialer(t *testing.T) {
	ctx := probeCtx(t, 5*time.Second)
	for _, typ := range []string{"status", "tcp", "udp"} {
		p, _ := Lookup(typ)
		r := run(ctx, p, &Target{Type: typ, URL: "http://127.0.0.1:1/", Port: 1}, &Env{})
		wantDown(t, r)
	}
}

func TestTargetHost(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":          "example.com",
		" 127.0.0.1 ":          "127.0.0.1",
		"[::1]":                "::1",
		"tcp://example.com:25": "example.com",
	} {
		got, err := targetHost(in)
		if err != nil || got != want {
			t.Errorf("targetHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", "[]", "http://"} {
		if got, err := targetHost(in); err == nil {
			t.Errorf("targetHost(%q) = %q, want an error", in, got)
		}
	}
}
