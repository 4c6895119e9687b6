package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilo/vigilo/cluster"
	"github.com/vigilo/vigilo/engine"
)

// clusterNode is one bin/vigilo of a three-node cluster on loopback.
type clusterNode struct {
	*server
	id   int
	dead atomic.Bool // killed: the load leaves it alone
}

type healthJSON struct {
	Node          int      `json:"node"`
	Shards        int      `json:"shards"`
	Leaders       []int    `json:"leaders"`
	Led           []int    `json:"led"`
	WithoutLeader int      `json:"without_leader"`
	Applied       []uint64 `json:"applied"`
}

// defaultShard is the shard of the default project, where every check of
// these tests is (its keys are the operator's: --api-key).
func (h healthJSON) defaultShard() int {
	return int(cluster.ShardOf(engine.DefaultProjectID[:], h.Shards))
}

// caughtUp says whether a replica's health shows every shard applied as
// far as another's.
func (h healthJSON) caughtUp(other healthJSON) bool {
	if len(h.Applied) != len(other.Applied) || len(h.Applied) == 0 {
		return false
	}
	for i, a := range other.Applied {
		if a == 0 || h.Applied[i] < a {
			return false
		}
	}
	return true
}

func (n *clusterNode) health() (int, healthJSON) {
	var h healthJSON
	resp, err := http.Get(n.url + "/healthz")
	if err != nil {
		return 0, h
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &h)
	return resp.StatusCode, h
}

// startCluster launches three nodes and waits until one holds the state
// and the others know it.
func startCluster(t *testing.T, extra ...string) []*clusterNode {
	t.Helper()
	var peers []string
	var nodes []*clusterNode
	for i := 1; i <= 3; i++ {
		api, raft := freeAddr(t), freeAddr(t)
		peers = append(peers, fmt.Sprintf("%d=%s/%s", i, raft, api))
		n := &clusterNode{server: &server{t: t, data: t.TempDir(), addr: api, url: "http://" + api}, id: i}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.args = []string{"serve", "--cluster-id", fmt.Sprint(n.id), "--cluster-peers", strings.Join(peers, ","),
			"--data", n.data, "--min-period", "1s", "--api-key", apiKey, "--read-only-key", roKey,
			"--ping-log-limit", "100000"}
		n.args = append(n.args, extra...)
		n.spawn()
		t.Cleanup(n.stop)
	}
	waitLeader(t, nodes)
	return nodes
}

// waitLeader waits until every running node answers /healthz 200, they
// all name the same leader for every shard, and the leaderships are spread
// evenly over them (so the balancer moves no more); it returns the node
// that leads the default project's shard.
func waitLeader(t *testing.T, nodes []*clusterNode) *clusterNode {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var holder *clusterNode
		var first *healthJSON
		agree := true
		lo, hi, total := 1<<30, 0, 0
		for _, n := range nodes {
			if n.done == nil {
				continue
			}
			code, h := n.health()
			if code != 200 {
				agree = false
				continue
			}
			if first == nil {
				first = &h
			} else if fmt.Sprint(first.Leaders) != fmt.Sprint(h.Leaders) {
				agree = false
			}
			lo, hi, total = min(lo, len(h.Led)), max(hi, len(h.Led)), total+len(h.Led)
			for _, s := range h.Led {
				if s == h.defaultShard() {
					holder = n
				}
			}
		}
		if holder != nil && agree && first != nil && total == first.Shards && hi-lo <= 1 {
			return holder
		}
		if time.Now().After(deadline) {
			for _, n := range nodes {
				_, h := n.health()
				t.Logf("node %d: %+v\n%s", n.id, h, n.out)
			}
			t.Fatal("the running nodes do not agree on balanced shard leaders after 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type pingRecord struct {
	N          int    `json:"n"`
	UA         string `json:"ua"`
	RemoteAddr string `json:"remote_addr"`
}

// kill -9 of the node holding the state, under ping load through all three:
// no acknowledged ping is lost, the survivors keep answering (requests wait
// for the new leader rather than fail), silent checks still go down after
// the failover, each flip is notified under one Idempotency-Key, and the
// killed node, restarted, catches up.
func TestClusterKill9UnderPingLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes and a failover")
	}
	nodes := startCluster(t)
	holder := waitLeader(t, nodes)
	rc := newReceiver(t)
	via := nodes[(holder.id)%3] // a follower: its API calls are forwarded
	via.addChannel("hook", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/webhook"))
	var load []check
	for i := range 20 {
		load = append(load, via.create(apiKey, fmt.Sprintf(`{"name": "load-%d", "timeout": 3600, "grace": 3600}`, i)))
	}
	// One heartbeat of each other dialect, pinged by its own URLs.
	via.og("POST", "/v2/heartbeats", apiKey, `{"name": "og-load", "interval": 60, "intervalUnit": "minutes", "enabled": true}`, 201)
	var bu struct{ Data buResource }
	via.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "bu-load", "period": 3600, "grace": 3600}`, 201, &bu)
	buPath := bu.Data.Attributes.URL[strings.Index(bu.Data.Attributes.URL, "/api/v1/heartbeat/"):]
	buUUID := hcUUID(t, bu.Data.Attributes.URL)
	// Silent checks: pinged once, due 4 s later, after the kill below.
	var silent []check
	for i := range 6 {
		c := via.create(apiKey, fmt.Sprintf(`{"name": "silent-%d", "timeout": 3, "grace": 1, "channels": "*"}`, i))
		if code, _ := via.ping("/ping/" + c.UUID); code != 200 {
			t.Fatalf("ping silent check: %d", code)
		}
		silent = append(silent, c)
	}
	pingedAt := time.Now()

	// The load: 16 clients, each pinging random checks through random
	// nodes with a unique User-Agent, recording what was acknowledged.
	var (
		mu      sync.Mutex
		acked   = map[string]map[string]bool{} // check uuid → UAs answered 2xx
		dialect = map[string]int{}             // "og", "bu" → pings answered 2xx
		answers = map[int]int{}
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	hc := &http.Client{Timeout: 30 * time.Second}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				n := nodes[r.IntN(3)]
				if n.dead.Load() {
					continue
				}
				c := load[r.IntN(len(load))]
				ua := fmt.Sprintf("w%d-%d", w, k)
				req, _ := http.NewRequest("GET", n.url+"/ping/"+c.UUID, nil)
				kind := ""
				switch r.IntN(10) {
				case 0:
					kind = "og"
					req, _ = http.NewRequest("POST", n.url+"/v2/heartbeats/og-load/ping", nil)
					req.Header.Set("Authorization", "GenieKey "+apiKey)
				case 1:
					kind = "bu"
					req, _ = http.NewRequest("GET", n.url+buPath, nil)
				}
				req.Header.Set("User-Agent", ua)
				resp, err := hc.Do(req)
				code := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				if code == 202 && kind == "og" {
					code = 200 // Opsgenie's answer to a ping
				}
				answers[code]++
				if code == 200 && kind != "" {
					dialect[kind]++
				} else if code == 200 {
					if acked[c.UUID] == nil {
						acked[c.UUID] = map[string]bool{}
					}
					acked[c.UUID][ua] = true
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Second)
	holder.dead.Store(true)
	holder.kill9()
	killedAt := time.Now()
	newHolder := waitLeader(t, nodes)
	failover := time.Since(killedAt)
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("failover: node %d killed, node %d holding after %v; answers by status %v", holder.id, newHolder.id, failover.Round(time.Millisecond), answers)
	for code, n := range answers {
		// 503 only for a request in flight to the killed node when it died
		// (it may or may not have been recorded); connection errors (0) are
		// requests to the killed node itself.
		if code != 200 && code != 503 && code != 0 {
			t.Errorf("%d answers with status %d", n, code)
		}
	}
	if answers[200] < 100 {
		t.Fatalf("only %d pings acknowledged", answers[200])
	}

	// Every acknowledged ping is in its check's log, read through each
	// survivor.
	for _, n := range nodes {
		if n.done == nil {
			continue
		}
		lost := 0
		for _, c := range load {
			var out struct {
				Pings []pingRecord `json:"pings"`
			}
			n.api("GET", "/api/v3/checks/"+c.UUID+"/pings/", apiKey, "", 200, &out)
			have := map[string]bool{}
			for _, p := range out.Pings {
				have[p.UA] = true
			}
			for ua := range acked[c.UUID] {
				if !have[ua] {
					lost++
				}
			}
		}
		if lost > 0 {
			t.Errorf("through node %d: %d acknowledged pings are missing", n.id, lost)
		}
	}

	// The other dialects' pings are all counted too.
	var list struct {
		Checks []check `json:"checks"`
	}
	newHolder.api("GET", "/api/v3/checks/", apiKey, "", 200, &list)
	found := 0
	for _, c := range list.Checks {
		want := -1
		switch {
		case c.Name == "og-load":
			want = dialect["og"]
		case c.UUID == buUUID:
			want = dialect["bu"]
		}
		if want >= 0 {
			found++
		}
		if want >= 0 && c.NPings < want {
			t.Errorf("%s: %d pings counted, %d acknowledged", c.Name, c.NPings, want)
		}
		if want == 0 {
			t.Errorf("%s: no ping of its dialect was acknowledged", c.Name)
		}
	}
	if found != 2 {
		t.Errorf("found %d of the Opsgenie and Better Uptime heartbeats in the list", found)
	}
	t.Logf("acknowledged through the other dialects: %v", dialect)

	// The silent checks go down after the failover, never before they are
	// due, each notified once (one Idempotency-Key per flip).
	due := pingedAt.Add(4 * time.Second).Truncate(time.Second)
	for _, c := range silent {
		newHolder.waitStatus(c.UUID, "down", 30*time.Second)
		var flips []flip
		newHolder.api("GET", "/api/v3/checks/"+c.UUID+"/flips/", apiKey, "", 200, &flips)
		if len(flips) != 2 || flips[0].Up != 0 || flips[0].time(t).Before(due) {
			t.Errorf("check %s flips %+v: want up then down at or after %v", c.Name, flips, due)
		}
		t.Logf("%s went down %v after its due time", c.Name, flips[0].time(t).Sub(due))
	}
	deliveries := rc.wait("/webhook", len(silent), 30*time.Second)
	keys := map[string]int{}
	for _, d := range deliveries {
		keys[d.Header.Get("Idempotency-Key")]++
	}
	logged := 0
	for _, c := range silent {
		notes := newHolder.notifications(c.UUID)
		logged += len(notes)
		for _, nt := range notes {
			if keys[nt.ID] == 0 {
				t.Errorf("notification %s of %s was not delivered under its key", nt.ID, c.Name)
			}
		}
	}
	if len(keys) != len(silent) || logged != len(silent) {
		t.Errorf("%d distinct Idempotency-Keys and %d logged notifications for %d down flips (deliveries by key: %v)",
			len(keys), logged, len(silent), keys)
	}

	// The killed node comes back and catches up with the leader's log.
	holder.spawn()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, lead := newHolder.health()
		code, h := holder.health()
		if code == 200 && fmt.Sprint(h.Leaders) == fmt.Sprint(lead.Leaders) && h.caughtUp(lead) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted node did not catch up: %+v, leader %+v", h, lead)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And serves: a ping through it lands.
	if code, body := holder.ping("/ping/" + load[0].UUID); code != 200 {
		t.Fatalf("ping through the restarted node: %d %s", code, body)
	}
}

// A node that cannot reach a quorum (both others stopped: SIGSTOP, so their
// sockets stay open and unanswered, as behind a partition) answers 503 to
// pings and /healthz instead of taking writes it cannot make durable, and
// serves again once they are back.
func TestClusterNoQuorumRefusesWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes")
	}
	nodes := startCluster(t, "--cluster-wait", "500ms")
	holder := waitLeader(t, nodes)
	c := holder.create(apiKey, `{"name": "q", "timeout": 3600, "grace": 3600}`)
	alone := nodes[holder.id%3]
	// A forwarded ping is logged with its client's address, not the
	// forwarding node's: the client dials from 127.0.0.2.
	from := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	resp, err := from.Get(alone.url + "/ping/" + c.UUID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var logged struct {
		Pings []pingRecord `json:"pings"`
	}
	holder.api("GET", "/api/v3/checks/"+c.UUID+"/pings/", apiKey, "", 200, &logged)
	if resp.StatusCode != 200 || len(logged.Pings) != 1 || logged.Pings[0].RemoteAddr != "127.0.0.2" {
		t.Fatalf("a ping forwarded by node %d: %d, logged %+v; want it from 127.0.0.2", alone.id, resp.StatusCode, logged.Pings)
	}
	resume := stopOthers(t, nodes, alone)
	defer resume()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := alone.ping("/ping/" + c.UUID)
		hc, _ := alone.health()
		if code == 503 && hc == 503 {
			break
		}
		if code == 200 && alone.id != holder.id {
			// Forwarded to a stopped leader would hang, not answer 200.
			t.Fatalf("node %d acknowledged a ping with no quorum", alone.id)
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d still answers ping %d, /healthz %d without a quorum", alone.id, code, hc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resume()
	waitLeader(t, nodes)
	if code, body := alone.ping("/ping/" + c.UUID); code != 200 {
		t.Fatalf("after the others are back: %d %s", code, body)
	}
}

// A node whose disk is lost is replaced by a fresh, empty one: started with
// --cluster-join, it asks to be added (the dead one is removed by hand),
// it is sent a snapshot (the log was cut since), and once the leadership is
// handed to it, it serves every check and ping that was acknowledged
// before, and the cluster survives the loss of one more original node.
func TestClusterReplaceWithEmptyNode(t *testing.T) {
	if testing.Short() {
		t.Skip("four processes")
	}
	const compact, secret = "--cluster-compact-every=20", "--cluster-secret=e2e-cluster-secret"
	nodes := startCluster(t, compact, secret)
	holder := waitLeader(t, nodes)
	var checks []check
	for i := range 5 {
		c := holder.create(apiKey, fmt.Sprintf(`{"name": "r-%d", "timeout": 3600, "grace": 3600}`, i))
		for range 3 {
			if code, _ := holder.ping("/ping/" + c.UUID); code != 200 {
				t.Fatalf("ping: %d", code)
			}
		}
		checks = append(checks, c)
	}
	// Enough entries that the log is cut (20 applied, 10 kept) before the
	// new node comes.
	filler := holder.create(apiKey, `{"name": "filler", "timeout": 3600, "grace": 3600}`)
	for range 60 {
		if code, _ := holder.ping("/ping/" + filler.UUID); code != 200 {
			t.Fatalf("ping: %d", code)
		}
	}
	if v := sample(t, scrape(t, holder.url), "vigilo_raft_log_compactions_total"); v == 0 {
		t.Fatal("the holder never cut its log")
	}
	// The dead node is one that does not lead.
	dead := nodes[holder.id%3]
	dead.dead.Store(true)
	dead.kill9()
	raftOf := func(n *clusterNode) string { // its raft address, from its flags
		for _, part := range strings.Split(n.args[4], ",") {
			if strings.HasPrefix(part, fmt.Sprintf("%d=", n.id)) {
				return strings.SplitN(strings.TrimPrefix(part, fmt.Sprintf("%d=", n.id)), "/", 2)[0]
			}
		}
		t.Fatalf("no raft address for node %d in %q", n.id, n.args[4])
		return ""
	}
	auth := map[string]string{"Authorization": "Bearer e2e-cluster-secret"}
	// Membership changes of shard 0 are made on its leader; one asked of
	// another node is answered 421 naming it.
	members := func(method, path, body string, want int) []byte {
		t.Helper()
		to := raftOf(holder)
		code, b := call(t, method, "http://"+to+path, auth, body)
		if code == 421 {
			var redirect struct {
				LeaderRaft string `json:"leader_raft"`
			}
			json.Unmarshal(b, &redirect)
			code, b = call(t, method, "http://"+redirect.LeaderRaft+path, auth, body)
		}
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
		}
		return b
	}
	// The replacement: node 4, empty, told how to reach the survivors.
	api, raft := freeAddr(t), freeAddr(t)
	fresh := &clusterNode{server: &server{t: t, data: t.TempDir(), addr: api, url: "http://" + api}, id: 4}
	var peers []string
	for _, part := range strings.Split(holder.args[4], ",") {
		if !strings.HasPrefix(part, fmt.Sprintf("%d=", dead.id)) {
			peers = append(peers, part)
		}
	}
	peers = append(peers, fmt.Sprintf("4=%s/%s", raft, api))
	fresh.args = []string{"serve", "--cluster-id", "4", "--cluster-peers", strings.Join(peers, ","), "--cluster-join",
		"--data", fresh.data, "--min-period", "1s", "--api-key", apiKey, "--read-only-key", roKey, compact, secret}
	fresh.spawn()
	t.Cleanup(fresh.stop)
	// The cluster listener takes nothing without the secret: not a
	// membership change, not a raft message, not a snapshot.
	for _, r := range [][2]string{{"GET", "/cluster/v1/members"}, {"POST", "/cluster/v1/members"},
		{"POST", "/cluster/v1/raft"}, {"GET", "/cluster/v1/snapshot?shard=0&index=1"}} {
		for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}} {
			if code, _ := call(t, r[0], "http://"+raftOf(holder)+r[1], h, `{"id": 9, "raft": "127.0.0.1:1", "api": "127.0.0.1:2"}`); code != 401 {
				t.Fatalf("%s %s with %v: %d, want 401", r[0], r[1], h, code)
			}
		}
	}
	members("POST", "/cluster/v1/members", `{"id": 0}`, 400)
	members("POST", "/cluster/v1/members?shard=99", `{"id": 5, "raft": "127.0.0.1:1", "api": "127.0.0.1:2"}`, 400)
	// Node 4 asks to be added itself (--cluster-join), to every shard; by
	// hand, it is then a member already.
	for joined := time.Now().Add(30 * time.Second); ; {
		if strings.Contains(fresh.out.String(), "joined the cluster") {
			break
		}
		if time.Now().After(joined) {
			t.Fatalf("node 4 did not join by itself: %s", fresh.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	members("POST", "/cluster/v1/members", fmt.Sprintf(`{"id": 4, "raft": %q, "api": %q}`, raft, api), 409)
	// The dead node goes from every shard at once (any node does it).
	members("DELETE", fmt.Sprintf("/cluster/v1/members/%d", dead.id), "", 200)
	// Applied on shard 0's leader when answered; on this node a moment later.
	for applied := time.Now().Add(10 * time.Second); ; {
		var dir struct {
			Members map[string]any `json:"members"`
		}
		err := json.Unmarshal(members("GET", "/cluster/v1/members", "", 200), &dir)
		if err == nil && len(dir.Members) == 3 && dir.Members["4"] != nil && dir.Members[fmt.Sprint(dead.id)] == nil {
			break
		}
		if time.Now().After(applied) {
			t.Fatalf("members after the replacement: %+v %v", dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// It catches up on every shard, and takes its share of the shards'
	// leaderships by itself (the balancer): 4 of 12 among three nodes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, lead := holder.health()
		code, h := fresh.health()
		if code == 200 && h.caughtUp(lead) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new node did not catch up: %+v, leader %+v\n%s", h, lead, fresh.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := sample(t, scrape(t, fresh.url), `vigilo_raft_snapshots_total{step="installed"}`); v < 1 {
		t.Fatalf("the new node installed %v snapshots: it replayed a log that should have been cut", v)
	}
	// An empty node holds no view of its store: each shard's old files are
	// excised, and its tables go in with nothing left to compact.
	if v := sample(t, scrape(t, fresh.url), `vigilo_raft_snapshots_total{step="excised"}`); v < 1 {
		t.Fatalf("the new node excised %v of its snapshots' spans", v)
	}
	if v := sample(t, scrape(t, fresh.url), "vigilo_pebble_ingested_bytes_total"); v <= 0 {
		t.Fatalf("the new node reports %v bytes ingested", v)
	}
	all := []*clusterNode{nodes[0], nodes[1], nodes[2], fresh}
	waitLeader(t, all)
	if _, h := fresh.health(); len(h.Led) < h.Shards/3 {
		t.Fatalf("the new node leads shards %v of %d: it did not take its share", h.Led, h.Shards)
	}
	// The default project's shard, whose log was cut, is handed to it by
	// hand: it then serves those checks from the snapshot it installed.
	_, h := holder.health()
	ds := h.defaultShard()
	if h.Leaders[ds] != 4 {
		var lead *clusterNode
		for _, n := range all {
			if n.id == h.Leaders[ds] {
				lead = n
			}
		}
		if code, b := call(t, "POST", fmt.Sprintf("http://%s/cluster/v1/leader?shard=%d", raftOf(lead), ds), auth, `{"id": 4}`); code != 202 {
			t.Fatalf("hand shard %d to node 4: %d %s", ds, code, b)
		}
		for {
			if _, h := fresh.health(); slices.Contains(h.Led, ds) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node 4 does not lead shard %d", ds)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, c := range checks {
		var got check
		fresh.api("GET", "/api/v3/checks/"+c.UUID, apiKey, "", 200, &got)
		if got.NPings != 3 || got.Status != "up" {
			t.Fatalf("check %s on the new node: %d pings, %s; want 3, up", c.Name, got.NPings, got.Status)
		}
		var log struct {
			Pings []json.RawMessage `json:"pings"`
		}
		fresh.api("GET", "/api/v3/checks/"+c.UUID+"/pings/", apiKey, "", 200, &log)
		if len(log.Pings) != 3 {
			t.Fatalf("check %s on the new node: %d pings logged, want 3", c.Name, len(log.Pings))
		}
	}
	// The old holder can go too: node 4 and the other original are a quorum.
	holder.dead.Store(true)
	holder.kill9()
	waitLeader(t, all)
	for _, n := range all {
		if n.dead.Load() {
			continue
		}
		if code, body := n.ping("/ping/" + checks[0].UUID); code != 200 {
			t.Fatalf("ping through node %d after losing two originals: %d %s", n.id, code, body)
		}
	}
}

// The holder, cut off from both others (SIGSTOP), stops delivering the
// notification it was retrying as soon as it is cut off: each attempt
// waits for a quorum to confirm its leadership, so it never sends while
// another node may have taken over. Back together, the notification is
// delivered under its one Idempotency-Key.
func TestClusterCutOffLeaderSendsNoAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes")
	}
	nodes := startCluster(t, "--notify-max-backoff", "1s")
	holder := waitLeader(t, nodes)
	rc := newReceiver(t)
	var failing atomic.Bool
	failing.Store(true)
	rc.setStatus(func(string, int) int {
		if failing.Load() {
			return 503
		}
		return 200
	})
	holder.addChannel("hook", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/webhook"))
	c := holder.create(apiKey, `{"name": "cut-off", "timeout": 1, "grace": 1, "channels": "*"}`)
	if code, _ := holder.ping("/ping/" + c.UUID); code != 200 {
		t.Fatalf("ping: %d", code)
	}
	rc.wait("/webhook", 3, 30*time.Second) // down, and retried
	resume := stopOthers(t, nodes, holder)
	defer resume()
	cut := time.Now()
	// Retried at most 1 s apart, it would arrive a few more times before
	// the holder steps down (an election timeout, 1–2 s).
	time.Sleep(2500 * time.Millisecond)
	late := 0
	rc.mu.Lock()
	for _, d := range rc.got {
		// An attempt confirmed just before the cut may still land.
		if d.At.After(cut.Add(300 * time.Millisecond)) {
			late++
		}
	}
	rc.mu.Unlock()
	if late > 0 {
		t.Fatalf("the cut-off holder delivered %d attempts after it lost its quorum", late)
	}
	if v := sample(t, scrape(t, holder.url), `vigilo_cluster_fence_rounds_total`); v == 0 {
		t.Fatal("no fence rounds counted")
	}
	failing.Store(false)
	healed := time.Now()
	resume()
	waitLeader(t, nodes)
	deadline := time.Now().Add(30 * time.Second)
	for {
		keys := map[string]int{}
		answered := false
		rc.mu.Lock()
		for _, d := range rc.got {
			keys[d.Header.Get("Idempotency-Key")]++
			answered = answered || d.At.After(healed)
		}
		n := len(rc.got)
		rc.mu.Unlock()
		if len(keys) != 1 {
			t.Fatalf("deliveries under %d Idempotency-Keys for one flip: %v", len(keys), keys)
		}
		if answered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notification was not delivered after the cluster healed (%d attempts)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A monitor's response times are replicated like the rest of its state:
// every one the holder showed before its kill -9 is still there on its
// successor.
func TestClusterKeepsResponseTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes and a failover")
	}
	nodes := startCluster(t)
	holder := waitLeader(t, nodes)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer target.Close()
	m := monCreate(t, holder.server, monBody(`"url": `+monJSON(target.URL)))
	times := func(n *clusterNode) map[string]bool {
		var rt monResponseTimes
		monCall(t, n.server, "GET", "/api/v2/monitors/"+m.ID+"/response-times", apiKey, "", 200, &rt)
		out := map[string]bool{}
		for _, r := range rt.Data.Attributes.Regions {
			for _, p := range r.ResponseTimes {
				out[p.At] = true
			}
		}
		return out
	}
	var before map[string]bool
	deadline := time.Now().Add(30 * time.Second)
	for before = times(holder); len(before) < 4; before = times(holder) {
		if time.Now().After(deadline) {
			t.Fatalf("%d response times after 30 s", len(before))
		}
		time.Sleep(200 * time.Millisecond)
	}
	holder.dead.Store(true)
	holder.kill9()
	next := waitLeader(t, nodes)
	after := times(next)
	for at := range before {
		if !after[at] {
			t.Fatalf("node %d lost the response time at %s that node %d showed before its kill (%d of %d kept)",
				next.id, at, holder.id, len(after), len(before))
		}
	}
}

// stopOthers SIGSTOPs every node but keep (their sockets stay open and
// unanswered, as behind a partition); the function it returns resumes them.
func stopOthers(t *testing.T, nodes []*clusterNode, keep *clusterNode) func() {
	t.Helper()
	var paused []*clusterNode
	for _, n := range nodes {
		if n != keep {
			if err := n.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			paused = append(paused, n)
		}
	}
	return func() {
		for _, n := range paused {
			n.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
}
