package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
)

// Real servers of each protocol a monitor probes, each on a fixed address so a
// test can stop it and start it again where the monitor looks for it.

var monQuietLog = log.New(io.Discard, "", 0)

// monService is a server a test stops and starts again on the same address.
type monService struct {
	t    *testing.T
	addr string // host:port, fixed after the first start
	// run serves on ln (or, for UDP, on pc) and returns how to stop it.
	run  func(ln net.Listener, pc net.PacketConn) (stop func())
	udp  bool
	mu   sync.Mutex
	halt func()
}

func (m *monService) start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.halt != nil {
		return
	}
	// The port was ours a moment ago; another process may not take it, but a
	// socket lingering in the kernel may delay the bind briefly.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		if m.udp {
			var pc net.PacketConn
			if pc, err = net.ListenPacket("udp", m.addr); err == nil {
				m.addr = pc.LocalAddr().String()
				m.halt = m.run(nil, pc)
				return
			}
		} else {
			var ln net.Listener
			if ln, err = net.Listen("tcp", m.addr); err == nil {
				m.addr = ln.Addr().String()
				m.halt = m.run(ln, nil)
				return
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("listen again on %s: %v", m.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *monService) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.halt != nil {
		m.halt()
		m.halt = nil
	}
}

func (m *monService) host() string { h, _, _ := net.SplitHostPort(m.addr); return h }
func (m *monService) port() string { _, p, _ := net.SplitHostPort(m.addr); return p }

func newMonService(t *testing.T, addr string, udp bool, run func(net.Listener, net.PacketConn) func()) *monService {
	t.Helper()
	m := &monService{t: t, addr: addr, run: run, udp: udp}
	m.start()
	t.Cleanup(m.stop)
	return m
}

// monHTTPServer serves h over HTTP, or HTTPS with cfg.
func monHTTPServer(t *testing.T, h http.Handler, cfg *tls.Config) *monService {
	return newMonService(t, "127.0.0.1:0", false, func(ln net.Listener, _ net.PacketConn) func() {
		if cfg != nil {
			ln = tls.NewListener(ln, cfg)
		}
		srv := &http.Server{Handler: h, ErrorLog: monQuietLog}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ln) }()
		return func() { _ = srv.Close(); _ = ln.Close(); <-done }
	})
}

func (m *monService) url(path string, tls bool) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	return scheme + m.addr + path
}

// monTCPServer accepts connections and closes them.
func monTCPServer(t *testing.T) *monService {
	return newMonService(t, "127.0.0.1:0", false, func(ln net.Listener, _ net.PacketConn) func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return func() { _ = ln.Close(); <-done }
	})
}

// monUDPServer answers every datagram with reply.
func monUDPServer(t *testing.T, reply string) *monService {
	return newMonService(t, "127.0.0.1:0", true, func(_ net.Listener, pc net.PacketConn) func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 65535)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				_, _ = pc.WriteTo([]byte(reply), from)
			}
		}()
		return func() { _ = pc.Close(); <-done }
	})
}

// monMailAddr finds a loopback address where the well-known port is free: mail
// monitors only accept their protocol's ports. Binding below 1024 needs root
// (or a lowered ip_unprivileged_port_start), so without it the test skips.
func monMailAddr(t *testing.T, port int) string {
	t.Helper()
	var last error
	// From a random start, so that test runs at the same time (another
	// package's, another checkout's) rarely meet on one address: a server of
	// theirs on ours would answer our monitor while ours is stopped.
	first := mrand.IntN(250)
	for k := range 40 {
		addr := net.JoinHostPort("127.0.0."+strconv.Itoa(2+(first+k)%250), strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr
		}
		last = err
		if errors.Is(err, os.ErrPermission) {
			break
		}
	}
	t.Skipf("cannot listen on port %d of any loopback address (euid %d): %v", port, os.Geteuid(), last)
	return ""
}

type monSMTPSession struct{}

func (monSMTPSession) Reset()                               {}
func (monSMTPSession) Logout() error                        { return nil }
func (monSMTPSession) Mail(string, *smtp.MailOptions) error { return nil }
func (monSMTPSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (monSMTPSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

// monSMTPServer is emersion/go-smtp on addr.
func monSMTPServer(t *testing.T, addr string) *monService { return monSMTPTLSServer(t, addr, nil) }

// monSMTPTLSServer is emersion/go-smtp on addr, offering STARTTLS with cfg.
func monSMTPTLSServer(t *testing.T, addr string, cfg *tls.Config) *monService {
	return newMonService(t, addr, false, func(ln net.Listener, _ net.PacketConn) func() {
		s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return monSMTPSession{}, nil }))
		s.Domain = "localhost"
		s.ErrorLog = monQuietLog
		s.TLSConfig = cfg
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Serve(ln) }()
		return func() { _ = s.Close(); _ = ln.Close(); <-done }
	})
}

// monIMAPServer is emersion/go-imap v2's imapserver over imapmemserver on addr.
func monIMAPServer(t *testing.T, addr string) *monService {
	mem := imapmemserver.New()
	return newMonService(t, addr, false, func(ln net.Listener, _ net.PacketConn) func() {
		s := imapserver.New(&imapserver.Options{
			NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
				return mem.NewSession(), nil, nil
			},
			Caps:   imap.CapSet{imap.CapIMAP4rev1: {}},
			Logger: monQuietLog,
		})
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Serve(ln) }()
		return func() { _ = s.Close(); _ = ln.Close(); <-done }
	})
}

// monPOPServer is a minimal POP3 server (RFC 1939, CAPA of RFC 2449): the
// greeting, CAPA, QUIT, and -ERR for anything else.
func monPOPServer(t *testing.T, addr string) *monService {
	return newMonService(t, addr, false, func(ln net.Listener, _ net.PacketConn) func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		conns := map[net.Conn]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns[c] = true
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
					tc := textproto.NewConn(c)
					if tc.PrintfLine("+OK vigilo e2e POP3 ready") != nil {
						return
					}
					for {
						line, err := tc.ReadLine()
						if err != nil {
							return
						}
						verb, _, _ := strings.Cut(line, " ")
						switch strings.ToUpper(verb) {
						case "CAPA":
							for _, l := range []string{"+OK capability list follows", "USER", "UIDL", "."} {
								if tc.PrintfLine("%s", l) != nil {
									return
								}
							}
						case "QUIT":
							_ = tc.PrintfLine("+OK bye")
							return
						default:
							_ = tc.PrintfLine("-ERR unknown command")
						}
					}
				}()
			}
		}()
		return func() {
			_ = ln.Close()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		}
	})
}

// signCert makes a P-256 key and a certificate of it from tmpl, signed by
// parent's key (self-signed when parent is nil).
func signCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// monCert is a self-signed certificate for 127.0.0.1 valid until notAfter.
func monCert(t *testing.T, notAfter time.Time) *tls.Config {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "vigilo e2e"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, key := signCert(t, tmpl, nil, nil)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
