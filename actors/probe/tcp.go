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

	host, err := targetHost(t.URL)
	if err != nil {
		r.Err = err.Error()
		return
	}
	if err := targetPort(t.Port); err != nil {
		r.Err = err.Error()
		return
	}
	c, err := dialHost(ctx, env, "tcp", host, t.Port, &r.DNS, &r.Connect)
	if err != nil {
		r.Err = err.Error()
		return
	}
	// The connection was the test; a close error says nothing about the target.
	_ = c.Close()
	r.Up = true
}
