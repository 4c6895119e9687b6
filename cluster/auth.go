package cluster

import (
	"crypto/subtle"
	"net"

	"github.com/valyala/fasthttp"
)

// The cluster listener takes raft messages, snapshot fetches and membership
// changes: whoever reaches it can rewrite the cluster. With Options.Secret
// set, every request to it must carry "Authorization: Bearer <secret>",
// which the nodes' own clients send; without, it is open, for loopback or a
// private network only (Open warns otherwise).

// authorized says whether the cluster listener may serve ctx, answering 401
// when not.
func (n *Node) authorized(ctx *fasthttp.RequestCtx) bool {
	if n.o.Secret == "" {
		return true
	}
	got := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if subtle.ConstantTimeCompare(got, n.bearer) == 1 {
		return true
	}
	ctx.SetStatusCode(fasthttp.StatusUnauthorized)
	ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="vigilo cluster"`)
	ctx.SetBodyString("the cluster listener needs the cluster's secret (Authorization: Bearer …)\n")
	return false
}

// warnIfOpen logs when a cluster listener without a secret listens beyond
// loopback.
func (n *Node) warnIfOpen(addr string) {
	if n.o.Secret != "" || n.o.TLS != nil {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return
	}
	n.log.Warn("the cluster listener has no secret (--cluster-secret): anyone who reaches it can change the cluster", "listen", addr)
}
