package probe

import (
	"context"
)

// probeTCP passes when a TCP connection to URL:Port is established; it sends
// nothing, so any listener counts.
func probeTCP(ctx context.Context, t *Target, env *Env, r *Result) {
	*r = Result{}
	now := envNow(env)
	start := now()
	defer func() { r.Total = now().Sub(start) }()

	c, ok := dialTarget(ctx, t, env, "tcp", r)
	if !ok {
		return
	}
	// The connection was the test; a close error says nothing about the target.
	_ = c.Close()
	r.Up = true
}
