package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// askToJoin is how a node started with Options.Join becomes a member: it
// POSTs its own addresses to MembersPath on the members it was given,
// following a 421 to the leader it names, until one adds it (200) or
// says it is a member already (409: added by hand, or before a restart).
// It retries every second until then, or until the node closes.
func (n *Node) askToJoin() {
	defer n.wg.Done()
	self := n.o.Peers[n.o.ID]
	body, err := json.Marshal(memberJSON{ID: n.o.ID, Raft: self.Raft, API: self.API})
	if err != nil {
		n.log.Error("join: encode the request", "err", err)
		return
	}
	client := &http.Client{Timeout: memberChangeTimeout + 5*time.Second}
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
	ask := func(addr string) (code int, leader string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+MembersPath, bytes.NewReader(body))
		if err != nil {
			return 0, ""
		}
		if n.bearer != nil {
			req.Header.Set("Authorization", string(n.bearer))
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		var answer struct {
			LeaderRaft string `json:"leader_raft"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = json.Unmarshal(b, &answer)
		return resp.StatusCode, answer.LeaderRaft
	}
	for {
		for id, p := range n.Members() {
			if id == n.o.ID {
				continue
			}
			code, leader := ask(p.Raft)
			if code == http.StatusMisdirectedRequest && leader != "" {
				code, _ = ask(leader)
			}
			switch code {
			case http.StatusOK:
				n.log.Info("joined the cluster", "through", id)
				return
			case http.StatusConflict:
				return
			}
		}
		select {
		case <-n.stop:
			return
		case <-time.After(time.Second):
		}
	}
}
