package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// defaultUDPPayload is sent when the target names none; echo-style services
// answer anything, and a newline suits line-oriented ones.
const defaultUDPPayload = "ping\n"

// maxDatagram is the largest UDP payload, so no reply is ever truncated.
const maxDatagram = 65535

// probeUDP sends UDPPayload to URL:Port and passes when the first reply contains
// RequiredKeyword (any reply when it is empty). UDP has no handshake, so silence
// until ctx is done is the only way to tell a dead service from a slow one.
func probeUDP(ctx context.Context, t *Target, env *Env, r *Result) {
	*r = Result{}
	now := envNow(env)
	start := now()
	defer func() { r.Total = now().Sub(start) }()

	c, ok := dialTarget(ctx, t, env, "udp", r)
	if !ok {
		return
	}
	defer c.Close()

	// A deadline stops the read at ctx's deadline without a goroutine; AfterFunc
	// covers a ctx cancelled early or one without a deadline.
	if d, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	payload := t.UDPPayload
	if payload == "" {
		payload = defaultUDPPayload
	}
	if _, err := c.Write([]byte(payload)); err != nil {
		r.Err = fmt.Errorf("udp write: %w", ctxErr(ctx, err)).Error()
		return
	}
	buf := make([]byte, maxDatagram)
	n, err := c.Read(buf)
	if err != nil {
		// A connected UDP socket reports the ICMP port unreachable of a closed
		// port as a refused read, which is a clearer reason than a timeout.
		r.Err = fmt.Errorf("udp read: %w", ctxErr(ctx, err)).Error()
		return
	}
	r.FirstByte = now().Sub(start)
	if !bytes.Contains(buf[:n], []byte(t.RequiredKeyword)) {
		r.Err = fmt.Sprintf("reply does not contain keyword %q", t.RequiredKeyword)
		return
	}
	r.Up = true
}

// ctxErr names ctx's reason when err is the deadline we set from it, since
// "i/o timeout" hides that the probe's time ran out.
func ctxErr(ctx context.Context, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	// The socket deadline can fire a moment before ctx's own timer does.
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err
}
