package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/cluster/raftlog"
)

// serveRemove takes a node out of every shard: for each, its leadership
// first moves to another member if the node holds it, then the shard's
// leader removes it. Shard 0 goes last: its membership is the directory
// the other shards' leaders use to reach each other. Each step is one the
// operator could make by hand (POST LeaderPath?shard, DELETE
// MembersPath/<id>?shard); a failure answers which shard it stopped at,
// and asking again carries on from there.
func (n *Node) serveRemove(ctx *fasthttp.RequestCtx, id uint64) {
	var heirs []uint64
	for m := range n.Members() {
		if m != id {
			heirs = append(heirs, m)
		}
	}
	if len(heirs) < 2 {
		writeError(ctx, fasthttp.StatusConflict, "a cluster keeps at least two members: add one before removing this one")
		return
	}
	client := n.peerClient(memberChangeTimeout+5*time.Second, 2)
	defer client.CloseIdleConnections()
	c, cancel := context.WithTimeout(context.Background(), time.Duration(len(n.hosts))*2*memberChangeTimeout)
	defer cancel()
	order := make([]uint32, 0, len(n.hosts))
	for s := 1; s < len(n.hosts); s++ {
		order = append(order, uint32(s))
	}
	order = append(order, 0)
	for _, s := range order {
		if err := n.removeFrom(c, client, s, id, heirs); err != nil {
			code := fasthttp.StatusServiceUnavailable
			if errors.Is(err, errWouldLoseQuorum) {
				code = fasthttp.StatusConflict
			}
			writeError(ctx, code, fmt.Sprintf("shard %d: %v; the shards before it no longer have node %d", s, err, id))
			return
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"removed": id, "shards": len(n.hosts)})
}

// removeFrom takes node id out of one shard, handing its leadership to
// one of heirs first if it holds it (each in turn: raft refuses one that
// is not caught up).
func (n *Node) removeFrom(ctx context.Context, client *http.Client, shard uint32, id uint64, heirs []uint64) error {
	refused := 0
	for try := 0; ; try++ {
		lead := n.raft.Leader(shard)
		switch {
		case lead == 0:
			// An election: wait for it.
		case lead == id:
			body, _ := json.Marshal(map[string]uint64{"id": heirs[try%len(heirs)]})
			if code, err := n.callPeer(ctx, client, lead, http.MethodPost, fmt.Sprintf("%s?shard=%d", LeaderPath, shard), body); err != nil || code != http.StatusAccepted {
				n.log.Warn("remove: hand over a shard", "shard", shard, "code", code, "err", err)
			}
		default:
			code, err := n.callPeer(ctx, client, lead, http.MethodDelete, fmt.Sprintf("%s/%d?shard=%d", MembersPath, id, shard), nil)
			switch {
			case err == nil && code == http.StatusOK:
				return nil
			case err == nil && code == http.StatusNotFound && shard == 0:
				return nil // gone already: asked again after a failure
			case err == nil && code == http.StatusConflict:
				// Refused for the quorum: a leader elected a moment ago
				// may not have heard from every member yet, so ask a few
				// times, for longer than an election timeout, first.
				if refused++; refused > quorumRetries {
					return errWouldLoseQuorum
				}
			}
			n.log.Warn("remove: a shard's change", "shard", shard, "code", code, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %d is still in it: %w", id, ctx.Err())
		case <-n.stop:
			return errNotHolding
		case <-time.After(n.o.Tick * 2):
		}
	}
}

// errWouldLoseQuorum: a shard's leader kept refusing the removal, which
// would leave fewer live voters than a quorum.
var errWouldLoseQuorum = errors.New("removing the node would leave the shard fewer live members than a quorum: bring the members that are down back, or add one, first")

// quorumRetries is how many refusals for the quorum a removal takes before
// it gives up: each try waits two ticks, so this spans more than an
// election timeout (raftlog.DefaultElectionTicks).
const quorumRetries = raftlog.DefaultElectionTicks

// callPeer makes one request to a member's cluster listener.
func (n *Node) callPeer(ctx context.Context, client *http.Client, id uint64, method, path string, body []byte) (int, error) {
	p, ok := n.peer(id)
	if !ok {
		return 0, fmt.Errorf("node %d is not a member", id)
	}
	req, err := n.peerRequest(ctx, method, n.scheme()+p.Raft+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, nil
}
