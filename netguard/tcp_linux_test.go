package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func newGuard(t *testing.T, o Options) *Guard {
	t.Helper()
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// echoServer accepts connections on addr and answers each with the address
// it came from and what it read, then closes it.
func echoServer(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	return serve(t, network, addr, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(append([]byte(c.RemoteAddr().String()+" "), buf[:n]...))
	})
}

// A numeric TCP address is dialled on a socket of the Guard's own; the
// connection carries data both ways, with TCP_NODELAY and the addresses net
// would report.
func TestDialTCPOwnSocket(t *testing.T) {
	for _, tc := range []struct{ network, listen string }{
		{"tcp", "127.0.0.1:0"}, {"tcp4", "127.0.0.1:0"}, {"tcp", "[::1]:0"}, {"tcp6", "[::1]:0"},
	} {
		t.Run(tc.network+" "+tc.listen, func(t *testing.T) {
			ln := echoServer(t, "tcp", tc.listen)
			c, err := newGuard(t, Options{}).DialContext(context.Background(), tc.network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tcp, ok := c.(*tcpConn)
			if !ok {
				t.Fatalf("dial gave a %T, not the Guard's own connection", c)
			}
			if c.RemoteAddr().String() != ln.Addr().String() {
				t.Fatalf("RemoteAddr %s, want %s", c.RemoteAddr(), ln.Addr())
			}
			rc, err := tcp.f.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var nodelay int
			rc.Control(func(fd uintptr) {
				nodelay, err = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
			})
			if err != nil || nodelay == 0 {
				t.Fatalf("TCP_NODELAY %d (%v), want it set", nodelay, err)
			}
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			// The server saw the connection come from our LocalAddr.
			if want := c.LocalAddr().String() + " ping"; string(got) != want {
				t.Fatalf("read %q, want %q", got, want)
			}
		})
	}
}

// Errors read as net's own, for the same failures.
func TestDialTCPErrorsAsNet(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	g := newGuard(t, Options{})
	var d net.Dialer

	_, ours := g.DialContext(context.Background(), "tcp", closed)
	_, theirs := d.DialContext(context.Background(), "tcp", closed)
	if ours == nil || theirs == nil || ours.Error() != theirs.Error() {
		t.Fatalf("refused: %v, net says %v", ours, theirs)
	}
	if !errors.Is(ours, syscall.ECONNREFUSED) {
		t.Fatalf("refused: %v is not ECONNREFUSED", ours)
	}

	// Denied, on the Guard's own path as on net.Dialer's.
	_, err = newGuard(t, Options{DenyPrivate: true}).DialContext(context.Background(), "tcp", closed)
	var oe *net.OpError
	if !errors.Is(err, ErrDenied) || !errors.As(err, &oe) || oe.Op != "dial" {
		t.Fatalf("denied: %v", err)
	}

	// On a connection: a deadline, a close, and the peer's reset.
	ln2 := echoServer(t, "tcp", "127.0.0.1:0")
	c, err := g.DialContext(context.Background(), "tcp", ln2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Unix(1, 0))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || !errors.As(err, &oe) {
		t.Fatalf("read past the deadline: %v", err)
	}
	c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}

	// The peer resets only once the dial has returned: a reset while the
	// dial still checks its socket fails the dial instead (seen once in CI).
	reset, dialed := make(chan struct{}), make(chan struct{})
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	go func() {
		sc, err := rl.Accept()
		if err == nil {
			<-dialed
			sc.(*net.TCPConn).SetLinger(0)
			sc.Close()
		}
		close(reset)
	}()
	c, err = g.DialContext(context.Background(), "tcp", rl.Addr().String())
	close(dialed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-reset
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("read after the peer's reset: %v", err)
	}
}

// fullListener listens with a backlog of none and never accepts: once its
// queue holds a connection, the kernel drops further SYNs, so a dial to it
// stays in progress until its timeout or its context ends it.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// Fill the queue: dial until one does not connect at once.
	g := newGuard(t, Options{Timeout: 200 * time.Millisecond})
	for range 8 {
		c, err := g.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the listener's queue never filled")
	return ""
}

// A connection still in progress ends as net.Dialer's would: "i/o timeout" at
// the Guard's Timeout or the context's deadline, "operation was canceled" at
// the context's cancel.
func TestDialTCPInProgress(t *testing.T) {
	addr := fullListener(t)

	_, err := newGuard(t, Options{Timeout: 100 * time.Millisecond}).DialContext(context.Background(), "tcp", addr)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("past the Timeout: %v", err)
	}
	if want := "dial tcp " + addr + ": i/o timeout"; err.Error() != want {
		t.Fatalf("past the Timeout: %q, want %q", err, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = newGuard(t, Options{}).DialContext(ctx, "tcp", addr)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past the context's deadline: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = newGuard(t, Options{}).DialContext(ctx, "tcp", addr)
	if !errors.Is(err, context.Canceled) || err.Error() != "dial tcp "+addr+": operation was canceled" {
		t.Fatalf("cancelled: %v", err)
	}

	_, err = newGuard(t, Options{}).DialContext(ctx, "tcp", addr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("with a context already cancelled: %v", err)
	}
}

// What the Guard's own path does not take (a zone, a mapped address, a name)
// still goes through net.Dialer.
func TestDialTCPLeftToNet(t *testing.T) {
	ln := echoServer(t, "tcp", "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, addr := range []string{"localhost:" + port, "[::ffff:127.0.0.1]:" + port} {
		c, err := newGuard(t, Options{}).DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if _, ok := c.(*net.TCPConn); !ok {
			t.Fatalf("%s: a %T, want net.Dialer's", addr, c)
		}
		c.Close()
	}
	// A family that does not match the network: net's error.
	if _, err := newGuard(t, Options{}).DialContext(context.Background(), "tcp6", ln.Addr().String()); err == nil {
		t.Fatal("tcp6 to an IPv4 address connected")
	}
}

// BenchmarkDialTCP is one probe's connection against a loopback server that
// answers and closes: dial, write, read to the end, close. "guard" is the
// Guard's own socket, "net.Dialer" what it replaces. The server runs in the
// same process: cpu-ns/op, the process's CPU time per connection, is both
// ends' cost, what a node probing at full load pays.
func BenchmarkDialTCP(b *testing.B) {
	ln := serve(b, "tcp", "127.0.0.1:0", func(c net.Conn) {
		buf := make([]byte, 64)
		c.Read(buf)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
		c.Close()
	})
	addr := ln.Addr().String()
	g, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	d := net.Dialer{KeepAlive: -1}
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	for _, bc := range []struct {
		name string
		dial func(context.Context, string, string) (net.Conn, error)
	}{{"guard", g.DialContext}, {"net.Dialer", d.DialContext}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16) // a node has hundreds of probes under way, not one
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 256)
				for pb.Next() {
					c, err := bc.dial(context.Background(), "tcp", addr)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					for {
						if _, err := c.Read(buf); err != nil {
							break
						}
					}
					c.Close()
				}
			})
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the process's user and system time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
