package probe

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serveTCP listens on loopback and runs serve on each connection it
// accepts, in the accepting goroutine (serve starts its own when it blocks),
// until the test ends; it returns the address.
func serveTCP(t *testing.T, serve func(net.Conn)) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// listenTCP serves connections by closing them, and returns the port.
func listenTCP(t *testing.T) int {
	t.Helper()
	return serveTCP(t, func(c net.Conn) { c.Close() }).Port
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		return port
	default:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return port
	}
}

func TestTCPUp(t *testing.T) {
	port := listenTCP(t)
	r := run(probeCtx(t, 10*time.Second), probeTCP, &Target{Type: "tcp", URL: "127.0.0.1", Port: port}, testEnv())
	wantUp(t, r)
	if r.Connect <= 0 {
		t.Errorf("Connect = %v, want > 0", r.Connect)
	}
	if r.DNS != 0 {
		t.Errorf("DNS = %v for an IP literal, want 0", r.DNS)
	}
}

func TestTCPResolvesName(t *testing.T) {
	port := listenTCP(t)
	// localhost may resolve to ::1 first, where nothing listens: the prober must
	// go on to 127.0.0.1.
	r := run(probeCtx(t, 10*time.Second), probeTCP, &Target{Type: "tcp", URL: "localhost", Port: port}, testEnv())
	wantUp(t, r)
	if r.DNS <= 0 || r.Connect <= 0 {
		t.Errorf("DNS = %v, Connect = %v, want both > 0", r.DNS, r.Connect)
	}
}

func TestTCPClosedPort(t *testing.T) {
	port := closedPort(t, "tcp")
	r := run(probeCtx(t, 10*time.Second), probeTCP, &Target{Type: "tcp", URL: "127.0.0.1", Port: port}, testEnv())
	wantDown(t, r)
	if r.Total <= 0 {
		t.Errorf("Total = %v, want > 0", r.Total)
	}
}

func TestTCPBadTarget(t *testing.T) {
	for _, tg := range []Target{
		{Type: "tcp", URL: "127.0.0.1", Port: 0},
		{Type: "tcp", URL: "127.0.0.1", Port: 70000},
		{Type: "tcp", URL: "", Port: 80},
	} {
		wantDown(t, run(probeCtx(t, 10*time.Second), probeTCP, &tg, testEnv()))
	}
}

// TestTCPDialRefused shows a dialer's refusal, the engine's private-target
// policy, failing the probe with the dialer's reason.
func TestTCPDialRefused(t *testing.T) {
	port := listenTCP(t)
	env := testEnv()
	env.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, errors.New("destination denied")
	}
	r := run(probeCtx(t, 10*time.Second), probeTCP, &Target{Type: "tcp", URL: "127.0.0.1", Port: port}, env)
	wantDown(t, r)
	if !strings.Contains(r.Err, "destination denied") {
		t.Errorf("Err = %q, want the dialer's reason", r.Err)
	}
}

// TestIPVersion shows ip_version choosing the addresses dialled: a name with
// an IPv6 and an IPv4 address, served on IPv4 only, is up for "ipv4" and for
// either, and down for "ipv6", which never falls back to IPv4.
func TestIPVersion(t *testing.T) {
	port := listenTCP(t)
	env := testEnv()
	env.Resolve = func(_ context.Context, host string) ([]net.IP, error) {
		if host != "dual.test" {
			return nil, errors.New("no such host")
		}
		return []net.IP{net.ParseIP("::1"), net.ParseIP("127.0.0.1")}, nil
	}
	probeTarget := func(version, host string) Result {
		return run(probeCtx(t, 10*time.Second), probeTCP, &Target{Type: "tcp", URL: host, Port: port, IPVersion: version}, env)
	}
	wantUp(t, probeTarget("", "dual.test"))
	wantUp(t, probeTarget("ipv4", "dual.test"))
	r := probeTarget("ipv6", "dual.test")
	wantDown(t, r)
	if strings.Contains(r.Err, "127.0.0.1") {
		t.Errorf("Err = %q: ipv6 dialled the IPv4 address", r.Err)
	}
	// A literal of the other family is refused before any dial.
	r = probeTarget("ipv6", "127.0.0.1")
	wantDown(t, r)
	if !strings.Contains(r.Err, "no ipv6 address") || r.Connect != 0 {
		t.Errorf("Err = %q, Connect = %v; want the family named and no dial", r.Err, r.Connect)
	}
	r = run(probeCtx(t, 10*time.Second), probeHTTP, &Target{Type: "status", URL: "http://dual.test:" + strconv.Itoa(port) + "/", IPVersion: "ipv6"}, env)
	wantDown(t, r)
}
