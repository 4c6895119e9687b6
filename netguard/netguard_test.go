package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// serve listens on network and addr and hands each connection to handle, on a
// goroutine of its own; the listener closes when tb ends. A test is skipped
// where addr cannot be listened on (an IPv6 loopback on an IPv4-only host).
func serve(tb testing.TB, network, addr string, handle func(net.Conn)) net.Listener {
	tb.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		tb.Skipf("listen %s %s: %v", network, addr, err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln
}

// listen starts a TCP listener on 127.0.0.1 that accepts and closes connections.
func listen(t *testing.T) string {
	t.Helper()
	return serve(t, "tcp", "127.0.0.1:0", func(c net.Conn) { c.Close() }).Addr().String()
}

func TestDenyPrivateRefusesLoopback(t *testing.T) {
	addr := listen(t)
	g, err := New(Options{DenyPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.DialContext(context.Background(), "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded, want ErrDenied", addr)
	}
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("dial %s: %v, want ErrDenied", addr, err)
	}
}

func TestDenyPrivateRefusesLoopbackName(t *testing.T) {
	addr := listen(t)
	_, port, _ := net.SplitHostPort(addr)
	g, err := New(Options{DenyPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	if err == nil {
		c.Close()
		t.Fatal("dial localhost succeeded, want ErrDenied")
	}
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("dial localhost: %v, want ErrDenied", err)
	}
}

func TestDenyPrivateRefusesUDP(t *testing.T) {
	g, err := New(Options{DenyPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.DialContext(context.Background(), "udp", "127.0.0.1:53")
	if err == nil {
		c.Close()
		t.Fatal("udp dial succeeded, want ErrDenied")
	}
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("udp dial: %v, want ErrDenied", err)
	}
}

func TestAllowPrivateConnects(t *testing.T) {
	addr := listen(t)
	g, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.Close()
}

func TestUnsupportedNetwork(t *testing.T) {
	g, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := g.DialContext(context.Background(), "unix", "/tmp/x.sock"); err == nil {
		c.Close()
		t.Fatal("unix dial succeeded")
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := New(Options{Timeout: -1}); err == nil {
		t.Fatal("negative Timeout accepted")
	}
}

func TestDenied(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"::1", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"172.32.0.1", false},
		{"192.168.1.1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"169.254.169.254", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"100.128.0.1", false},
		{"224.0.0.1", true},
		{"239.1.2.3", true},
		{"ff02::1", true},
		{"ff0e::1", true},
		{"255.255.255.255", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::a00:1", true},    // NAT64 of 10.0.0.1
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"93.184.216.34", false},
		{"2606:4700:4700::1111", false},
		{"2001:4860:4860::8888", false},
	} {
		got := Denied(netip.MustParseAddr(tc.ip))
		if got != tc.want {
			t.Errorf("Denied(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
	if !Denied(netip.Addr{}) {
		t.Error("Denied(zero Addr) = false, want true")
	}
}
