package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/vigilo/vigilo/engine/store"
)

// A node started without a shard count (Options.Shards 0) takes the one
// its data directory was made with, so that a restart needs no flag that
// could be given wrong; an empty directory joining a cluster takes the
// cluster's, asked of a member; a new cluster takes DefaultShards.

// shardCount is the node's shard count: the one given, or the one found,
// with a data directory that cannot hold it refused (refuseOtherData).
func (n *Node) shardCount(st *store.Store, given int) (int, error) {
	if given != 0 {
		return given, refuseOtherData(st, given)
	}
	stored, err := storedShards(st)
	if err != nil || stored != 0 {
		return stored, err // a count of the directory's own raft states
	}
	// Empty, or a single node's data: that is refused for what it is
	// before any member is asked (the count does not matter for it).
	if err := refuseOtherData(st, DefaultShards); err != nil {
		return 0, err
	}
	if n.o.Join {
		return n.learnShards()
	}
	return DefaultShards, nil
}

// storedShards is how many shards the raft states in st are for: 0 for a
// directory without any.
func storedShards(st *store.Store) (int, error) {
	for i := range store.MaxSpaces {
		v, err := st.RaftState(uint32(i))
		if err != nil {
			return 0, err
		}
		if v == nil {
			return i, nil
		}
	}
	return store.MaxSpaces, nil
}

// learnShardsTimeout bounds how long a joiner waits for a member to tell it
// the shard count: a joiner is started against a running cluster.
const learnShardsTimeout = 30 * time.Second

// learnShards asks the members the node was given for the cluster's shard
// count (the length of MembersPath's leaders), every second until one
// answers or learnShardsTimeout passes.
func (n *Node) learnShards() (int, error) {
	client := n.peerClient(5*time.Second, 1)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), learnShardsTimeout)
	defer cancel()
	var last error // Validate saw to it that there is another member to ask
	for {
		for id, p := range n.o.Peers {
			if id == n.o.ID {
				continue
			}
			count, err := n.askShards(ctx, client, p.Raft)
			if err == nil {
				return count, nil
			}
			last = fmt.Errorf("node %d: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("cluster: learn the shard count from the members (or pass it): %w", last)
		case <-time.After(time.Second):
		}
	}
}

// askShards is one member's shard count. The request carries no
// shardsHeader: this node has no count yet to disagree with (n.shards is
// set once the count is resolved).
func (n *Node) askShards(ctx context.Context, client *http.Client, addr string) (int, error) {
	req, err := n.peerRequest(ctx, http.MethodGet, n.scheme()+addr+MembersPath, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", MembersPath, resp.Status)
	}
	var answer struct {
		Leaders []uint64 `json:"leaders"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		return 0, fmt.Errorf("GET %s: %w", MembersPath, err)
	}
	if c := len(answer.Leaders); c < 1 || c > store.MaxSpaces {
		return 0, fmt.Errorf("GET %s: %d shards", MembersPath, c)
	}
	return len(answer.Leaders), nil
}
