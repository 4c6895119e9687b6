package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// IANA protocol numbers, as icmp.ParseMessage wants them.
const (
	protoICMP   = 1
	protoICMPv6 = 58
)

// icmpPayloadLen is long enough that a random payload identifies our echo among
// everyone else's on a raw socket, which sees every ICMP packet on the host.
const icmpPayloadLen = 16

// probeICMP sends one ICMP echo request to the host and passes on the matching
// echo reply.
//
// ICMP has no dialer, so instead of env.Dial the resolved address goes through
// env.Allow, the same private-destination policy.
func probeICMP(ctx context.Context, t *Target, env *Env, r *Result) {
	*r = Result{}
	now := envNow(env)
	start := now()
	defer func() { r.Total = now().Sub(start) }()

	host, err := targetHost(t.URL)
	if err != nil {
		r.Err = err.Error()
		return
	}
	ips, err := resolveHost(ctx, env, host, t.IPVersion, &r.DNS)
	if err != nil {
		r.Err = err.Error()
		return
	}
	// One address only: a ping monitor asks whether the host answers, and the
	// resolver's first choice is what other tools would ping.
	ip := ips[0]
	if env.Allow != nil {
		if err := env.Allow(ip); err != nil {
			r.Err = err.Error()
			return
		}
	}
	if err := ping(ctx, ip, icmpAny, now, start, r); err != nil {
		r.Err = err.Error()
		return
	}
	r.Up = true
}

// icmpSocket says which kind of ICMP socket ping may open; the probe takes
// either, tests pin one to exercise both paths.
type icmpSocket int

const (
	icmpAny icmpSocket = iota
	icmpDgram
	icmpRaw
)

// ping sends the echo and waits for its reply until ctx is done.
func ping(ctx context.Context, ip net.IP, sock icmpSocket, now func() time.Time, start time.Time, r *Result) error {
	// The socket's deadline only catches a ctx that ends while we wait; one
	// already over must not send at all.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("icmp echo %s: %w", ip, err)
	}
	conn, dgram, err := listenICMP(ip.To4() != nil, sock)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var ids [4]byte
	payload := make([]byte, icmpPayloadLen)
	// crypto/rand so that another host cannot forge the reply we accept.
	_, _ = rand.Read(ids[:])
	_, _ = rand.Read(payload)
	id := int(binary.BigEndian.Uint16(ids[:2]))
	seq := int(binary.BigEndian.Uint16(ids[2:]))

	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := protoICMP
	if ip.To4() == nil {
		reqType, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, protoICMPv6
	}
	msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
	// The kernel fills in the ICMPv6 checksum, which needs the pseudo-header
	// Marshal has no addresses for; nil is right for both families.
	wire, err := msg.Marshal(nil)
	if err != nil {
		return fmt.Errorf("icmp marshal: %w", err)
	}
	var dst net.Addr = &net.IPAddr{IP: ip}
	if dgram {
		dst = &net.UDPAddr{IP: ip}
	}
	if _, err := conn.WriteTo(wire, dst); err != nil {
		return fmt.Errorf("icmp send to %s: %w", ip, ctxErr(ctx, err))
	}

	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("icmp echo %s: %w", ip, ctxErr(ctx, err))
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != replyType {
			// Not ours to judge: a raw socket sees all ICMP, including our own
			// request when pinging loopback.
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || echo.Seq != seq || !bytes.Equal(echo.Data, payload) {
			continue
		}
		// A datagram socket's kernel rewrites the ID to its own port, and
		// delivers only that socket's replies, so only a raw socket checks it.
		if !dgram && echo.ID != id {
			continue
		}
		r.FirstByte = now().Sub(start)
		return nil
	}
}

// listenICMP opens an unprivileged datagram ICMP socket when the kernel allows
// it (net.ipv4.ping_group_range includes our group) and a raw socket otherwise,
// which needs root or CAP_NET_RAW. dgram says which one it got.
func listenICMP(v4 bool, sock icmpSocket) (conn *icmp.PacketConn, dgram bool, err error) {
	dgramNet, rawNet, laddr := "udp4", "ip4:icmp", "0.0.0.0"
	if !v4 {
		dgramNet, rawNet, laddr = "udp6", "ip6:ipv6-icmp", "::"
	}
	var errs []error
	if sock != icmpRaw {
		conn, err := icmp.ListenPacket(dgramNet, laddr)
		if err == nil {
			return conn, true, nil
		}
		errs = append(errs, fmt.Errorf("unprivileged %s: %w", dgramNet, err))
	}
	if sock != icmpDgram {
		conn, err := icmp.ListenPacket(rawNet, laddr)
		if err == nil {
			return conn, false, nil
		}
		errs = append(errs, fmt.Errorf("raw %s: %w", rawNet, err))
	}
	return nil, false, fmt.Errorf("icmp socket: %w", errors.Join(errs...))
}
