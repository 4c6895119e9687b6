package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// askToJoin is how a node started with Options.Join becomes a member: for
// each shard in turn it POSTs its own addresses to MembersPath on the
// members it knows, following a 421 to the shard's leader, until one adds
// it (200), or for shard 0 says it is a member already (409: added by
// hand, or before a restart). It retries every second until then, or
// until the node closes.
func (n *Node) askToJoin() {
	defer n.wg.Done()
	self := n.o.Peers[n.o.ID]
	body, err := json.Marshal(memberJSON{ID: n.o.ID, Raft: self.Raft, API: self.API})
	if err != nil {
		n.log.Error("join: encode the request", "err", err)
		return
	}
	client := n.peerClient(memberChangeTimeout+5*time.Second, 2)
	defer client.CloseIdleConnections()
	// Close must not wait for a request in flight.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	ask := func(addr string, shard int) (code int, leader string, msg []byte) {
		url := fmt.Sprintf("%s%s%s?shard=%d", n.scheme(), addr, MembersPath, shard)
		req, err := n.peerRequest(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, "", nil
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", nil
		}
		defer resp.Body.Close()
		var answer struct {
			LeaderRaft string `json:"leader_raft"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = json.Unmarshal(b, &answer)
		return resp.StatusCode, answer.LeaderRaft, b
	}
	refused := false // said once: a node started with another shard count
	// Shard 0 first: its membership is the member directory, which the
	// other shards' leaders need to reach this node.
	for shard := 0; shard < len(n.hosts); {
		joined := false
		for id, p := range n.Members() {
			if id == n.o.ID {
				continue
			}
			code, leader, msg := ask(p.Raft, shard)
			if code == http.StatusMisdirectedRequest && leader != "" {
				code, _, msg = ask(leader, shard)
			}
			if code == http.StatusPreconditionFailed && !refused {
				refused = true
				n.log.Error("join: refused by the cluster; start this node again from an empty data directory, with the cluster's --cluster-shards or none",
					"member", id, "answer", string(bytes.TrimSpace(msg)))
			}
			// 409 on shard 0: a member already (added by hand, or before
			// a restart); the other shards' adds are no change then.
			if code == http.StatusOK || code == http.StatusConflict && shard == 0 {
				joined = true
				break
			}
		}
		if joined {
			n.log.Info("joined a shard", "shard", shard)
			shard++
			continue
		}
		select {
		case <-n.stop:
			return
		case <-time.After(time.Second):
		}
	}
	n.log.Info("joined the cluster")
}
