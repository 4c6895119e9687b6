package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/vigilo/vigilo/cluster/raftlog"
	"github.com/vigilo/vigilo/engine/store"
)

// On the cluster listener, beside RaftPath: the member directory, and
// changes to it (on the leader; another node answers 421 naming it).
//
//	GET    /cluster/v1/members                {"leaders": [1, 3, …], "members": {"1": {"raft": "…", "api": "…"}, …}}
//	POST   /cluster/v1/members?shard=S        {"id": 4, "raft": "host:port", "api": "host:port"}: adds a node to shard S
//	DELETE /cluster/v1/members/<id>?shard=S   removes a node from shard S
//	DELETE /cluster/v1/members/<id>           removes a node from every shard (remove.go)
//	POST   /cluster/v1/leader?shard=S         {"id": 4}: hands shard S's leadership to that node
//
// A change of shard S is made on S's leader (another node answers 421
// naming it); S defaults to 0. Shard 0's membership is the member
// directory: a node joins it first and leaves it last.
//
// The cluster listener has no authentication: it is for loopback or a
// private network (README).
const (
	MembersPath = "/cluster/v1/members"
	LeaderPath  = "/cluster/v1/leader"
)

// memberChangeTimeout bounds how long a membership request waits for its
// change to apply.
const memberChangeTimeout = 10 * time.Second

func (n *Node) peer(id uint64) (Peer, bool) {
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	p, ok := n.peers[id]
	return p, ok
}

// onConfChange keeps the member directory as each membership change
// applies, on every replica alike, and stores it in the same batch.
func (n *Node) onConfChange(shard uint32, cc *pb.ConfChangeV2, context []byte, b *store.Batch) {
	if shard != 0 {
		return
	}
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	for _, ch := range cc.GetChanges() {
		id := ch.GetNodeId()
		switch ch.GetType() {
		case pb.ConfChangeAddNode, pb.ConfChangeAddLearnerNode:
			if _, ok := n.peers[id]; ok && len(context) == 0 {
				continue // a learner made a voter: its addresses came with it
			}
			var p Peer
			if err := json.Unmarshal(context, &p); err != nil || p.Raft == "" {
				n.log.Error("membership change without the node's addresses", "node", id, "err", err)
				continue
			}
			n.peers[id] = p
			n.tr.setPeer(id, p)
		case pb.ConfChangeRemoveNode:
			delete(n.peers, id)
			n.tr.removePeer(id)
		}
	}
	v, err := json.Marshal(n.peers)
	if err != nil {
		n.log.Error("encode the member directory", "err", err)
		return
	}
	b.PutClusterMembers(v)
}

// Members is the member directory as this node knows it.
func (n *Node) Members() map[uint64]Peer {
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	return maps.Clone(n.peers)
}

type memberJSON struct {
	ID   uint64 `json:"id"`
	Raft string `json:"raft"`
	API  string `json:"api"`
}

func (n *Node) serveMembers(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	shard, ok := n.queryShard(ctx)
	if !ok {
		return
	}
	switch {
	case ctx.IsGet() && path == MembersPath:
		members := map[string]Peer{}
		for id, p := range n.Members() {
			members[strconv.FormatUint(id, 10)] = p
		}
		leaders := make([]uint64, len(n.hosts))
		for i := range leaders {
			leaders[i] = n.raft.Leader(uint32(i))
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"leaders": leaders, "members": members})
	case ctx.IsPost() && path == MembersPath:
		var m memberJSON
		if err := json.Unmarshal(ctx.PostBody(), &m); err != nil || m.ID == 0 {
			writeError(ctx, fasthttp.StatusBadRequest, "the body must be {\"id\": N > 0, \"raft\": \"host:port\", \"api\": \"host:port\"}")
			return
		}
		for _, a := range []string{m.Raft, m.API} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				writeError(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("address %q: %v", a, err))
				return
			}
		}
		// On the shard's leader, whose directory is the freshest: a lagging
		// follower would answer from an old one.
		if !n.notLeader(ctx, shard) {
			return
		}
		if _, ok := n.peer(m.ID); ok && shard == 0 {
			writeError(ctx, fasthttp.StatusConflict, fmt.Sprintf("node %d is a member already", m.ID))
			return
		}
		if _, ok := n.peer(m.ID); !ok && shard != 0 {
			writeError(ctx, fasthttp.StatusConflict, fmt.Sprintf("node %d joins shard 0 first", m.ID))
			return
		}
		// As a learner, made a voter by the shard's leader once it has
		// caught up (raftlog's promote). Asking again, as a joiner that
		// restarted does, changes nothing.
		peerCtx, _ := json.Marshal(Peer{Raft: m.Raft, API: m.API})
		n.change(ctx, shard, pb.ConfChangeAddLearnerNode, m.ID, peerCtx)
	case ctx.IsDelete() && strings.HasPrefix(path, MembersPath+"/"):
		id, err := strconv.ParseUint(strings.TrimPrefix(path, MembersPath+"/"), 10, 64)
		if err != nil || id == 0 {
			writeError(ctx, fasthttp.StatusBadRequest, "the path must end in a node id")
			return
		}
		whole := len(ctx.QueryArgs().Peek("shard")) == 0
		if !whole && !n.notLeader(ctx, shard) {
			return
		}
		// Only shard 0's membership is the directory: another shard may
		// still have a node the directory lost (a removal cut short), and
		// removing one it does not have is no change.
		if _, ok := n.peer(id); !ok && (whole || shard == 0) {
			writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("node %d is not a member", id))
			return
		}
		if whole {
			n.serveRemove(ctx, id)
			return
		}
		if id == n.o.ID {
			writeError(ctx, fasthttp.StatusConflict, "this node leads the shard: hand its leadership to another (POST "+LeaderPath+") before removing it")
			return
		}
		n.change(ctx, shard, pb.ConfChangeRemoveNode, id, nil)
	default:
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "GET or POST "+MembersPath+", DELETE "+MembersPath+"/<id>")
	}
}

// change proposes a membership change on this node, which must lead, and
// answers once it is applied here.
func (n *Node) change(ctx *fasthttp.RequestCtx, shard uint32, typ pb.ConfChangeType, id uint64, context []byte) {
	if !n.notLeader(ctx, shard) {
		return
	}
	done := make(chan error, 1)
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: typ.Enum(), NodeId: new(id)}}, Context: context}
	n.raft.ProposeConfChange(shard, cc, func(_ uint64, err error) { done <- err })
	select {
	case err := <-done:
		if errors.Is(err, raftlog.ErrWouldLoseQuorum) {
			writeError(ctx, fasthttp.StatusConflict, err.Error()+": bring the members that are down back, or add one, first")
			return
		}
		if err != nil {
			writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"changed": typ.String(), "node": id})
	case <-time.After(memberChangeTimeout):
		writeError(ctx, fasthttp.StatusServiceUnavailable, "the change did not apply in time; it may still")
	}
}

// queryShard is the request's ?shard=, 0 when absent; a bad one is
// answered 400.
func (n *Node) queryShard(ctx *fasthttp.RequestCtx) (uint32, bool) {
	v := ctx.QueryArgs().Peek("shard")
	if len(v) == 0 {
		return 0, true
	}
	s, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil || s >= uint64(len(n.hosts)) {
		writeError(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("shard %q: want 0 to %d", v, len(n.hosts)-1))
		return 0, false
	}
	return uint32(s), true
}

// notLeader answers 421 naming the leader when this node does not hold
// the shard, and says whether it does.
func (n *Node) notLeader(ctx *fasthttp.RequestCtx, shard uint32) bool {
	if n.raft.Holds(shard) {
		return true
	}
	lead := n.raft.Leader(shard)
	p, _ := n.peer(lead)
	writeJSON(ctx, fasthttp.StatusMisdirectedRequest, map[string]any{"error": "not the leader", "leader": lead, "leader_raft": p.Raft})
	return false
}

func (n *Node) serveTransfer(ctx *fasthttp.RequestCtx) {
	var m struct {
		ID uint64 `json:"id"`
	}
	if !ctx.IsPost() || json.Unmarshal(ctx.PostBody(), &m) != nil || m.ID == 0 {
		writeError(ctx, fasthttp.StatusBadRequest, "POST {\"id\": N > 0}")
		return
	}
	if _, ok := n.peer(m.ID); !ok {
		writeError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("node %d is not a member", m.ID))
		return
	}
	shard, ok := n.queryShard(ctx)
	if !ok || !n.notLeader(ctx, shard) {
		return
	}
	if err := n.handOver(shard, m.ID); err != nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		return
	}
	// Asked, not done: raft hands over once the node is caught up.
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"transferring_to": m.ID})
}

func writeJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = fasthttp.StatusInternalServerError, []byte(`{"error": "encode"}`)
	}
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func writeError(ctx *fasthttp.RequestCtx, code int, msg string) {
	writeJSON(ctx, code, map[string]string{"error": msg})
}
