package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigilo/vigilo/engine"
)

// startNodes starts a cluster of n nodes in this process, on loopback and
// real stores, with a short tick.
func startNodes(t *testing.T, count, shards int) []*Node {
	t.Helper()
	peers := map[uint64]Peer{}
	for i := 1; i <= count; i++ {
		peers[uint64(i)] = Peer{Raft: freeAddr(t), API: freeAddr(t)}
	}
	var nodes []*Node
	for i := 1; i <= count; i++ {
		n, err := Open(Options{ID: uint64(i), Peers: peers, Shards: shards, Tick: 20 * time.Millisecond,
			Balance: 100 * time.Millisecond,
			Engine:  engine.Options{DataDir: t.TempDir(), APIKey: "operator-key", AdminKey: "adm", MinPeriod: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		nodes = append(nodes, n)
	}
	return nodes
}

// waitBalanced waits until every shard has a leader running its engine
// and the leaderships are spread evenly.
func waitBalanced(t *testing.T, nodes []*Node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		led, ok := map[uint64]int{}, true
		for _, n := range nodes {
			h := n.Health()
			if h.WithoutLeader > 0 {
				ok = false
			}
			led[n.o.ID] = len(h.Led)
		}
		lo, hi := 1<<30, 0
		total := 0
		for _, c := range led {
			lo, hi, total = min(lo, c), max(hi, c), total+c
		}
		if ok && total == len(nodes[0].hosts) && hi-lo <= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not balanced after 30 s: %v", led)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(url, "/admin/") {
		req.Header.Set("Authorization", "Bearer "+key)
	} else {
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// Projects spread over the shards, whose leaderships spread over the
// nodes; every node answers for every project, and lists gather them all.
func TestShardsSpreadAndServeEverywhere(t *testing.T) {
	nodes := startNodes(t, 3, 6)
	waitBalanced(t, nodes)
	// Balanced, the balancer hands nothing over.
	for _, n := range nodes {
		before := testutil.ToFloat64(n.m.transfers)
		n.balanceOnce()
		if after := testutil.ToFloat64(n.m.transfers); after != before {
			t.Fatalf("node %d handed a shard over in a balanced cluster: %v", n.o.ID, n.Health().Leaders)
		}
	}
	api := func(i int) string { return "http://" + nodes[i%len(nodes)].o.Peers[nodes[i%len(nodes)].o.ID].API }

	shardsUsed := map[uint32]bool{}
	projects := map[string]bool{engine.DefaultProjectID.String(): true}
	keys := []string{"operator-key"}
	for i := range 12 {
		code, p := call(t, "POST", api(i)+"/admin/v1/projects", "adm", map[string]string{"name": fmt.Sprint("p", i)})
		if code != 201 {
			t.Fatalf("create project through node %d: %d %v", i%3+1, code, p)
		}
		id := uuid.MustParse(p["id"].(string))
		shardsUsed[ShardOf(id[:], 6)] = true
		projects[id.String()] = true
		keys = append(keys, p["api_key"].(string))
	}
	if len(shardsUsed) < 2 {
		t.Fatalf("12 projects all in shard(s) %v", shardsUsed)
	}
	for i, key := range keys {
		code, c := call(t, "POST", api(i)+"/api/v3/checks/", key, map[string]any{"name": "c", "timeout": 60, "grace": 60})
		if code != 201 {
			t.Fatalf("create a check through node %d: %d %v", i%3+1, code, c)
		}
		id := c["uuid"].(string)
		resp, err := http.Get(api(i+1) + "/ping/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ping %s through node %d: %d", id, (i+1)%3+1, resp.StatusCode)
		}
		code, c = call(t, "GET", api(i+2)+"/api/v3/checks/"+id, key, nil)
		if code != 200 || c["n_pings"] != float64(1) {
			t.Fatalf("read check %s through node %d: %d %v", id, (i+2)%3+1, code, c)
		}
	}
	for i := range nodes {
		code, l := call(t, "GET", api(i)+"/admin/v1/projects", "adm", nil)
		list, _ := l["projects"].([]any)
		if code != 200 || len(list) != len(projects) {
			t.Fatalf("node %d lists %d projects (%d), want %d", i+1, len(list), code, len(projects))
		}
		last := ""
		for _, p := range list {
			id := p.(map[string]any)["id"].(string)
			if !projects[id] || id <= last {
				t.Fatalf("node %d lists %s out of order or unknown", i+1, id)
			}
			last = id
		}
	}
	// A wrong key is answered by an engine, in its dialect, not by the
	// routing.
	if code, _ := call(t, "GET", api(0)+"/api/v3/checks/", "no-such-key", nil); code != 401 {
		t.Fatalf("unknown key: %d, want 401", code)
	}
}

// A data directory made for one shard count is refused with another.
func TestRefusesAnotherShardCount(t *testing.T) {
	dir := t.TempDir()
	o := Options{ID: 1, Peers: map[uint64]Peer{1: {Raft: freeAddr(t), API: freeAddr(t)}}, Shards: 4, Engine: engine.Options{DataDir: dir}}
	n, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, shards := range []int{3, 5} {
		o.Shards = shards
		n, err := Open(o)
		if err == nil {
			n.Close()
			t.Fatalf("a directory made for 4 shards was opened with %d", shards)
		}
		if !strings.Contains(err.Error(), "another number of shards") {
			t.Fatalf("error %q does not say why", err)
		}
	}
}

// A handover fails no request: pings to a shard go on through every node
// while its leadership is handed around.
func TestHandOverFailsNoPing(t *testing.T) {
	nodes := startNodes(t, 3, 3)
	waitBalanced(t, nodes)
	ds := ShardOf(engine.DefaultProjectID[:], 3)
	api := func(i int) string { return "http://" + nodes[i%3].o.Peers[nodes[i%3].o.ID].API }
	code, c := call(t, "POST", api(0)+"/api/v3/checks/", "operator-key", map[string]any{"name": "h", "timeout": 60, "grace": 60})
	if code != 201 {
		t.Fatalf("create: %d %v", code, c)
	}
	id := c["uuid"].(string)
	stop := make(chan struct{})
	failed := make(chan string, 1000)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(api(w+k) + "/ping/" + id)
				if err != nil {
					failed <- err.Error()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed <- fmt.Sprintf("%s via node %d at %s: %s", resp.Status, (w+k)%3+1, time.Now().Format("05.000"), b)
				}
			}
		}()
	}
	moved := 0
	for range 6 {
		var lead *Node
		for _, n := range nodes {
			if n.raft.Holds(ds) {
				lead = n
			}
		}
		if lead == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		to := lead.o.ID%3 + 1
		if err := lead.handOver(ds, to); err == nil {
			moved++
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Errorf("a ping failed during the handovers: %s", f)
	}
	if moved == 0 {
		t.Fatal("no handover was made")
	}
}

// ShardOf is FNV-1a: every node, of every version, must place alike.
func TestShardOfIsFNV1a(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("k"), engine.DefaultProjectID[:]} {
		h := fnv.New64a()
		h.Write(b)
		if got, want := ShardOf(b, 12), uint32(h.Sum64()%12); got != want {
			t.Fatalf("ShardOf(%x) = %d, want %d", b, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ShardOf(engine.DefaultProjectID[:], 12) }); n != 0 {
		t.Fatalf("ShardOf allocates %v times", n)
	}
}

// With one node down, removing a live one is refused (the shards would be
// left with one live voter of two); removing the one that is down is not.
func TestRemoveKeepsAQuorum(t *testing.T) {
	nodes := startNodes(t, 3, 2)
	waitBalanced(t, nodes)
	down, live, via := nodes[0], nodes[1], nodes[2]
	down.Close()
	// Long enough for every leader to mark it silent (an election
	// timeout is 10 ticks of 20 ms), and for its shards to move.
	time.Sleep(time.Second)
	waitLed := time.Now().Add(30 * time.Second)
	for via.Health().WithoutLeader > 0 {
		if time.Now().After(waitLed) {
			t.Fatal("the survivors do not lead every shard")
		}
		time.Sleep(20 * time.Millisecond)
	}
	remove := func(id uint64) int {
		req, _ := http.NewRequest("DELETE", fmt.Sprintf("http://%s%s/%d", via.o.Peers[via.o.ID].Raft, MembersPath, id), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Logf("DELETE member %d: %s %s", id, resp.Status, b)
		}
		return resp.StatusCode
	}
	if code := remove(live.o.ID); code != 409 {
		t.Fatalf("removing live node %d with node %d down: %d, want 409", live.o.ID, down.o.ID, code)
	}
	if code := remove(down.o.ID); code != 200 {
		t.Fatalf("removing node %d, the one down: %d, want 200", down.o.ID, code)
	}
}

// A project created with X-Vigilo-Shard is placed in that shard, through
// any node.
func TestCreatePinnedToAShard(t *testing.T) {
	nodes := startNodes(t, 3, 6)
	waitBalanced(t, nodes)
	for s := range 6 {
		via := nodes[s%3]
		req, _ := http.NewRequest("POST", apiOf(via)+"/admin/v1/projects", strings.NewReader(fmt.Sprintf(`{"name": "pinned-%d"}`, s)))
		req.Header.Set("Authorization", "Bearer adm")
		req.Header.Set(shardHeader, fmt.Sprint(s))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			ID uuid.UUID `json:"id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != 201 || err != nil {
			t.Fatalf("create pinned to shard %d through node %d: %d %v", s, via.o.ID, resp.StatusCode, err)
		}
		if got := ShardOf(p.ID[:], 6); got != uint32(s) {
			t.Fatalf("a project pinned to shard %d is in shard %d", s, got)
		}
	}
}
