package cluster

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"

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

// shardsHeader carries the sender's shard count on every request a node
// makes to a peer's cluster listener. Nodes started with different counts
// name shards by different hashes and replicate shards the other does not
// have, so the listener refuses them (sameShards) instead of running a
// cluster whose nodes disagree about where every check lives.
const shardsHeader = "X-Vigilo-Shards"

// sameShards says whether the caller runs with this node's shard count,
// answering 412 when not. A request without the header is an operator's
// own (curl to the membership API), which has no count to disagree with.
func (n *Node) sameShards(ctx *fasthttp.RequestCtx) bool {
	v := ctx.Request.Header.Peek(shardsHeader)
	if len(v) == 0 {
		return true
	}
	if s, err := fasthttp.ParseUint(v); err == nil && s == len(n.hosts) {
		return true
	}
	n.m.shardMismatch.Inc()
	ctx.SetStatusCode(fasthttp.StatusPreconditionFailed)
	ctx.SetBodyString(fmt.Sprintf("this node runs %d shards and the caller %q: every node of a cluster must run with the same --cluster-shards\n", len(n.hosts), v))
	return false
}

// peerRequest is a request to a peer's cluster listener with what every
// one carries: the cluster's secret, and this node's shard count (none
// before the count is known: learnShards asks for it).
func (n *Node) peerRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	if n.bearer != nil {
		req.Header.Set("Authorization", string(n.bearer))
	}
	if n.shards != "" {
		req.Header.Set(shardsHeader, n.shards)
	}
	return req, nil
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
