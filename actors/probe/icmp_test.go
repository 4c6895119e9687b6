package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// skipUnlessICMP skips when this machine permits the socket kind to no one of
// our uid/gid: the raw socket needs CAP_NET_RAW, the datagram one a gid within
// net.ipv4.ping_group_range. Any other failure is the prober's and fails.
func skipUnlessICMP(t *testing.T, v4 bool, sock icmpSocket) {
	t.Helper()
	c, _, err := listenICMP(v4, sock)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EAFNOSUPPORT) {
		pgr, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
		t.Skipf("ICMP socket not permitted here (uid %d, gid %d, ping_group_range %q): %v",
			os.Getuid(), os.Getgid(), string(pgr), err)
	}
	t.Fatal(err)
}

func TestICMPLoopback(t *testing.T) {
	skipUnlessICMP(t, true, icmpAny)
	r := run(probeCtx(t, 10*time.Second), probeICMP, &Target{Type: "ping", URL: "127.0.0.1"}, testEnv())
	wantUp(t, r)
	if r.FirstByte <= 0 {
		t.Errorf("FirstByte = %v, want the round trip > 0", r.FirstByte)
	}
	if r.DNS != 0 {
		t.Errorf("DNS = %v for an IP literal, want 0", r.DNS)
	}
}

func TestICMPResolvesName(t *testing.T) {
	skipUnlessICMP(t, true, icmpAny)
	env := testEnv()
	// localhost may list ::1 first; pin v4 so the test does not depend on
	// whether this machine allows ICMPv6.
	env.Resolve = func(ctx context.Context, host string) ([]net.IP, error) {
		ips, err := defaultResolve(ctx, host)
		var v4 []net.IP
		for _, ip := range ips {
			if ip.To4() != nil {
				v4 = append(v4, ip)
			}
		}
		return v4, err
	}
	r := run(probeCtx(t, 10*time.Second), probeICMP, &Target{Type: "ping", URL: "localhost"}, env)
	wantUp(t, r)
	if r.DNS <= 0 || r.FirstByte <= 0 {
		t.Errorf("DNS = %v, FirstByte = %v, want both > 0", r.DNS, r.FirstByte)
	}
}

// TestICMPSockets pins each socket kind, since which one the prober gets
// depends on the machine: root gets the raw one only where the datagram one
// is not allowed.
func TestICMPSockets(t *testing.T) {
	for _, c := range []struct {
		name string
		ip   net.IP
		sock icmpSocket
	}{
		{"dgram4", net.IPv4(127, 0, 0, 1), icmpDgram},
		{"raw4", net.IPv4(127, 0, 0, 1), icmpRaw},
		{"dgram6", net.IPv6loopback, icmpDgram},
		{"raw6", net.IPv6loopback, icmpRaw},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.ip.To4() == nil {
				ln, err := net.Listen("tcp6", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback here: %v", err)
				}
				ln.Close()
			}
			skipUnlessICMP(t, c.ip.To4() != nil, c.sock)
			var r Result
			start := time.Now()
			if err := ping(probeCtx(t, 10*time.Second), c.ip, c.sock, time.Now, start, &r); err != nil {
				t.Fatal(err)
			}
			if r.FirstByte <= 0 {
				t.Errorf("FirstByte = %v, want > 0", r.FirstByte)
			}
		})
	}
}

func TestICMPCancelled(t *testing.T) {
	skipUnlessICMP(t, true, icmpAny)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := run(ctx, probeICMP, &Target{Type: "ping", URL: "127.0.0.1"}, testEnv())
	wantDown(t, r)
}

func TestICMPBadTarget(t *testing.T) {
	wantDown(t, run(probeCtx(t, 10*time.Second), probeICMP, &Target{Type: "ping", URL: ""}, testEnv()))
	wantDown(t, run(probeCtx(t, 10*time.Second), probeICMP, &Target{Type: "ping", URL: "no-such-host.invalid"}, testEnv()))
}

// Env.Allow vets the address ICMP sends to, as Dial does for the other probers.
func TestICMPAllow(t *testing.T) {
	env := &Env{Dial: (&net.Dialer{}).DialContext, Allow: func(ip net.IP) error {
		return fmt.Errorf("%s refused", ip)
	}}
	var r Result
	probeICMP(context.Background(), &Target{Type: "ping", URL: "127.0.0.1"}, env, &r)
	if r.Up || !strings.Contains(r.Err, "127.0.0.1 refused") {
		t.Fatalf("refused address probed: %+v", r)
	}
}
