package probe

import (
	"net"
	"strings"
	"testing"
	"time"
)

// udpServer answers each datagram with reply(datagram), or not at all when
// reply returns nil, and returns the port.
func udpServer(t *testing.T, reply func([]byte) []byte) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(buf[:n]); out != nil {
				_, _ = c.WriteTo(out, from)
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func echoPong(in []byte) []byte { return append([]byte("pong "), in...) }

func TestUDPKeywordMatched(t *testing.T) {
	port := udpServer(t, echoPong)
	r := run(probeCtx(t, 10*time.Second), probeUDP,
		&Target{Type: "udp", URL: "127.0.0.1", Port: port, RequiredKeyword: "pong"}, testEnv())
	wantUp(t, r)
	if r.Connect <= 0 || r.FirstByte <= 0 {
		t.Errorf("Connect = %v, FirstByte = %v, want both > 0", r.Connect, r.FirstByte)
	}
}

func TestUDPPayloadSent(t *testing.T) {
	port := udpServer(t, echoPong)
	// The keyword is in the reply only if the server got our payload.
	r := run(probeCtx(t, 10*time.Second), probeUDP,
		&Target{Type: "udp", URL: "127.0.0.1", Port: port, UDPPayload: "hello-42", RequiredKeyword: "pong hello-42"}, testEnv())
	wantUp(t, r)
	r = run(probeCtx(t, 10*time.Second), probeUDP,
		&Target{Type: "udp", URL: "127.0.0.1", Port: port, RequiredKeyword: "pong ping\n"}, testEnv())
	wantUp(t, r)
}

func TestUDPKeywordNotMatched(t *testing.T) {
	port := udpServer(t, echoPong)
	r := run(probeCtx(t, 10*time.Second), probeUDP,
		&Target{Type: "udp", URL: "127.0.0.1", Port: port, RequiredKeyword: "nope"}, testEnv())
	wantDown(t, r)
	if r.FirstByte <= 0 {
		t.Errorf("FirstByte = %v, want > 0: a reply came", r.FirstByte)
	}
	if !strings.Contains(r.Err, "nope") {
		t.Errorf("Err = %q, want it to name the keyword", r.Err)
	}
}

func TestUDPNoReply(t *testing.T) {
	port := udpServer(t, func([]byte) []byte { return nil })
	r := run(probeCtx(t, 200*time.Millisecond), probeUDP,
		&Target{Type: "udp", URL: "127.0.0.1", Port: port, RequiredKeyword: "pong"}, testEnv())
	wantDown(t, r)
	if !strings.Contains(r.Err, "deadline exceeded") {
		t.Errorf("Err = %q, want the probe's deadline named", r.Err)
	}
	if r.FirstByte != 0 {
		t.Errorf("FirstByte = %v with no reply, want 0", r.FirstByte)
	}
}

func TestUDPClosedPort(t *testing.T) {
	port := closedPort(t, "udp")
	r := run(probeCtx(t, 10*time.Second), probeUDP,
		&Target{Type: "udp", URL: "127.0.0.1", Port: port, RequiredKeyword: "pong"}, testEnv())
	wantDown(t, r)
}
