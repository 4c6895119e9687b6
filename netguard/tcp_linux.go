package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// dialTCP connects to the numeric address ap with a socket of its own, handed
// to the runtime's poller through os.NewFile, instead of through net.Dialer.
// A probe opens a connection per check, and on a virtual machine every system
// call is dear. After connect, net.Dialer asks getsockopt(SO_ERROR),
// getpeername and getsockname; here a zero-byte send tells established from
// connecting from failed in one call (os.NewFile adds an fcntl), and nothing
// is resolved, raced or wrapped on the way. With connections under way by the
// dozen, as on a probing node, a connection costs about 8% less CPU, both ends
// included (BenchmarkDialTCP; docs/BENCHMARKS.md).
//
// The connection behaves as net's: TCP_NODELAY set, the same timeout and
// cancellation, errors as *net.OpError with the same text. ok is false for
// what it leaves to net.Dialer: a zone, an IPv4-mapped address, or a family
// that does not match network.
func (g *Guard) dialTCP(ctx context.Context, network string, ap netip.AddrPort) (c net.Conn, ok bool, err error) {
	ip := ap.Addr()
	var family int
	var sa syscall.Sockaddr
	switch {
	case ip.Zone() != "" || ip.Is4In6():
		return nil, false, nil
	case ip.Is4() && network != "tcp6":
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	case ip.Is6() && network != "tcp4":
		family, sa = syscall.AF_INET6, &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	default:
		return nil, false, nil
	}
	dialError := func(err error) (net.Conn, bool, error) {
		return nil, true, &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	fail := func(op string, err error) (net.Conn, bool, error) { return dialError(os.NewSyscallError(op, err)) }
	if g.denyPrivate && Denied(ip) {
		return dialError(deniedError(ip))
	}
	if err := ctx.Err(); err != nil {
		return dialError(contextError(err))
	}

	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail("socket", err)
	}
	if err := syscall.Connect(fd, sa); err != nil && err != syscall.EINPROGRESS && err != syscall.EINTR {
		syscall.Close(fd)
		return fail("connect", err)
	}
	// Established on the spot, as on loopback, or refused: no wait and no
	// deadline to arm. Still connecting: EAGAIN, and the poller waits.
	connected := true
	if err := sendZero(fd); err == syscall.EAGAIN {
		connected = false
	} else if err != nil {
		syscall.Close(fd)
		return fail("connect", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return fail("setsockopt", err)
	}
	f := os.NewFile(uintptr(fd), "tcp")
	tc := &tcpConn{f: f, raddr: ap}
	if !connected {
		if err := tc.waitConnected(ctx, g.timeout); err != nil {
			f.Close()
			return dialError(err)
		}
	}
	return tc, true, nil
}

// sendZero sends nothing on fd: 0 once the connection is established, EAGAIN
// while it is being set up, its error (ECONNREFUSED, ETIMEDOUT...) once that
// failed. A write(2) of nothing would not do: it returns 0 before looking at
// the socket.
func sendZero(fd int) error {
	for {
		err := syscall.Sendto(fd, nil, 0, nil)
		if err != syscall.EINTR {
			return err
		}
	}
}

// waitConnected waits for the poller to report the socket writable, within
// timeout and ctx, as net.Dialer's connect does.
func (c *tcpConn) waitConnected(ctx context.Context, timeout time.Duration) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.f.SetWriteDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.f.SetWriteDeadline(longAgo) })
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		serr = sendZero(int(fd))
		return serr != syscall.EAGAIN
	})
	if !stop() || ctx.Err() != nil {
		return contextError(ctx.Err())
	}
	switch {
	case errors.Is(werr, os.ErrDeadlineExceeded):
		return errTimeout
	case werr != nil:
		return werr
	case serr != nil:
		return os.NewSyscallError("connect", serr)
	}
	return c.f.SetWriteDeadline(time.Time{})
}

// longAgo is a deadline in the past: it ends every wait on a connection.
var longAgo = time.Unix(1, 0)

// errTimeout is net's "i/o timeout": os.ErrDeadlineExceeded, which net's own
// dial returns for a timeout.
var errTimeout = os.ErrDeadlineExceeded

// contextError is the error net.Dialer reports for ctx's end: "i/o timeout"
// for a deadline, "operation was canceled" for a cancel.
func contextError(err error) error {
	switch err {
	case context.DeadlineExceeded:
		return errTimeout
	case context.Canceled:
		return errCanceled
	}
	return err
}

var errCanceled = canceledError{}

// canceledError is net's errCanceled: its text, and context.Canceled to
// errors.Is.
type canceledError struct{}

func (canceledError) Error() string        { return "operation was canceled" }
func (canceledError) Is(target error) bool { return target == context.Canceled }

// tcpConn is a connection dialTCP made: an *os.File on the socket, with
// net.Conn's addresses and net's errors. It holds nothing but the file, so
// that nothing but the file's own methods (not os.File's ReadFrom and
// WriteTo, which try file-to-file copies first) is reached through it.
type tcpConn struct {
	f     *os.File
	raddr netip.AddrPort // made a net.Addr only when asked: a probe never does

	laddrOnce sync.Once
	laddr     net.Addr
}

func (c *tcpConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if err == io.EOF {
		return n, err
	}
	return n, c.opError("read", err)
}

func (c *tcpConn) Write(b []byte) (int, error) {
	n, err := c.f.Write(b)
	return n, c.opError("write", err)
}

func (c *tcpConn) Close() error { return c.opError("close", c.f.Close()) }

// LocalAddr asks the kernel on first use: a probe never does, so dialling
// does not.
func (c *tcpConn) LocalAddr() net.Addr {
	c.laddrOnce.Do(func() {
		c.laddr = &net.TCPAddr{}
		rc, err := c.f.SyscallConn()
		if err != nil {
			return
		}
		rc.Control(func(fd uintptr) {
			switch sa, _ := syscall.Getsockname(int(fd)); sa := sa.(type) {
			case *syscall.SockaddrInet4:
				c.laddr = &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
			case *syscall.SockaddrInet6:
				c.laddr = &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
			}
		})
	})
	return c.laddr
}

func (c *tcpConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.raddr) }

func (c *tcpConn) SetDeadline(t time.Time) error {
	return c.opError("set", c.f.SetDeadline(t))
}

func (c *tcpConn) SetReadDeadline(t time.Time) error {
	return c.opError("set", c.f.SetReadDeadline(t))
}

func (c *tcpConn) SetWriteDeadline(t time.Time) error {
	return c.opError("set", c.f.SetWriteDeadline(t))
}

// opError turns os.File's *PathError into what net returns for the same
// failure: a *net.OpError whose Err is the system call's error, or
// os.ErrDeadlineExceeded, or net.ErrClosed.
func (c *tcpConn) opError(op string, err error) error {
	if err == nil {
		return nil
	}
	inner := err
	var pe *os.PathError
	if errors.As(err, &pe) {
		inner = pe.Err
	}
	var errno syscall.Errno
	switch {
	case errors.Is(inner, os.ErrClosed):
		inner = net.ErrClosed
	case errors.As(inner, &errno):
		inner = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: net.TCPAddrFromAddrPort(c.raddr), Err: inner}
}
