package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/cluster/raftlog"
)

// SnapshotPath is where a follower fetches the state of a raft snapshot its
// leader sent it, on the leader's cluster listener:
//
//	GET /cluster/v1/snapshot?shard=0&index=N   a store state stream; 404 once the snapshot is no longer held
const SnapshotPath = "/cluster/v1/snapshot"

// snapshotFetchTimeout bounds one fetch of a whole state.
const snapshotFetchTimeout = 10 * time.Minute

func (n *Node) serveSnapshot(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	args := ctx.QueryArgs()
	shard, err1 := strconv.ParseUint(string(args.Peek("shard")), 10, 32)
	index, err2 := strconv.ParseUint(string(args.Peek("index")), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString("shard and index: " + err.Error())
		return
	}
	snap, err := n.raft.OpenSnapshot(uint32(shard), index)
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString(err.Error())
		return
	}
	ctx.SetContentType("application/octet-stream")
	// The listener's write timeout is one deadline for the whole answer:
	// a state that takes longer to stream would be cut, and asked for
	// again, forever.
	ctx.SetWriteDeadline(time.Now().Add(snapshotFetchTimeout))
	// A stream cut short fails the follower's checksum: it asks again.
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer snap.Close()
		if err := snap.Write(w); err != nil {
			n.log.Warn("serve raft snapshot", "shard", shard, "index", index, "err", err)
		}
	})
}

// fetchSnapshot is raftlog's FetchSnapshot over the leader's cluster
// listener. Plain net/http: it streams a body of any size, where fasthttp's
// client would hold it in memory.
func (n *Node) fetchSnapshot(ctx context.Context, from uint64, shard uint32, index uint64, read func(io.Reader) error) error {
	p, ok := n.peer(from)
	if !ok {
		return fmt.Errorf("node %d is not a member", from)
	}
	ctx, cancel := context.WithTimeout(ctx, snapshotFetchTimeout)
	defer cancel()
	url := fmt.Sprintf("%s%s%s?shard=%d&index=%d", n.scheme(), p.Raft, SnapshotPath, shard, index)
	req, err := n.peerRequest(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := n.snapClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, msg)
	}
	return read(resp.Body)
}

// onInstall reloads the member directory from the store once a snapshot is
// installed: the membership changes it covers were never applied here.
func (n *Node) onInstall(uint32) {
	v, err := n.st.ClusterMembers()
	if err == nil && v == nil {
		return
	}
	var stored map[uint64]Peer
	if err == nil {
		err = json.Unmarshal(v, &stored)
	}
	if err != nil {
		n.log.Error("member directory of an installed snapshot", "err", err)
		return
	}
	n.peersMu.Lock()
	old := n.peers
	n.peers = stored
	n.peersMu.Unlock()
	for id, p := range stored {
		n.tr.setPeer(id, p)
	}
	for id := range old {
		if _, ok := stored[id]; !ok {
			n.tr.removePeer(id)
		}
	}
}

var _ raftlog.FetchFunc = (*Node)(nil).fetchSnapshot
