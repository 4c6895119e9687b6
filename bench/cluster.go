package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/cluster"
	"github.com/vigilo/vigilo/engine"
)

// The cluster targets.
const (
	TargetClusterRatio    = 0.5
	TargetFailoverSeconds = 5.0
	// clusterSilent is the silent checks whose deadlines fall due every
	// 100 ms from silentLead after the kill on: the first to fire after
	// it dates the failover.
	clusterSilent = 20
	// silentLead is how long after the kill the first silent deadline
	// falls: room for the kill to come late (it first asks the nodes,
	// under the load, which one holds the checks) without a deadline
	// falling before it, on the node about to be killed.
	silentLead = 200 * time.Millisecond
	// silentGrace is the silent checks' grace, in seconds: long enough
	// that all of them are pinged before the kill.
	silentGrace = 2
	// ClusterMaxChecks caps the checks the cluster scenario creates: it
	// makes them through the API, for the single node and for the cluster.
	ClusterMaxChecks = 100_000
	// ClusterProjects is how many projects the scenario's checks are spread
	// over, evenly: a cluster places a project whole in one of its shards,
	// so load spreads over the nodes only across projects, as a SaaS
	// backend's customers each have one. The single node gets the same.
	ClusterProjects = 12
	// clusterConnsFactor is the second load the steady runs are measured
	// at, in multiples of Options.Conns: a cluster's ping waits for two
	// round trips between nodes and two fsyncs where a single node's waits
	// for one fsync, so at one load the cluster is held back by its
	// latency (Little's law: connections / latency) before its CPU is
	// used up. Each side's rate is the best of the two loads: what it can
	// take, not how long one client waits.
	clusterConnsFactor = 4
)

// ClusterLevel is one load of the steady runs: both sides at Conns.
type ClusterLevel struct {
	Conns                    int     `json:"conns"`
	SingleNodePingsPerSecond float64 `json:"single_node_pings_per_second"`
	SingleNodeLatency        Latency `json:"single_node_latency_seconds"`
	DurablePingsPerSecond    float64 `json:"durable_pings_per_second"`
	Latency                  Latency `json:"latency_seconds"`
	Ratio                    float64 `json:"ratio"`
	// CPU seconds the single node, and the cluster's nodes together, used
	// per ping answered over the window (/proc/<pid>/stat): steadier than
	// the rates on a shared machine, whose other tenants slow both.
	SingleNodeCPUPerPing float64 `json:"single_node_cpu_seconds_per_ping"`
	ClusterCPUPerPing    float64 `json:"cluster_cpu_seconds_per_ping"`
}

// ClusterResult is the cluster scenario's figures: durable pings/s through
// the three nodes of a cluster on this machine beside a single node's in the
// same run, then a kill -9 of the node holding the state under that load.
type ClusterResult struct {
	Name   string `json:"name"`
	Checks int    `json:"checks"`
	Conns  int    `json:"conns"`
	Nodes  int    `json:"nodes"`
	// Projects the checks are spread over (ClusterProjects).
	Projects int `json:"projects"`

	// Levels are the steady runs, at Conns and at clusterConnsFactor
	// times as many. The figures below are each side's best level: the
	// cluster's through every node, round-robin by connection, with its
	// latency at that level; Ratio is theirs.
	Levels                   []ClusterLevel `json:"levels"`
	SingleNodePingsPerSecond float64        `json:"single_node_pings_per_second"`
	SingleNodeLatency        Latency        `json:"single_node_latency_seconds"`
	DurablePingsPerSecond    float64        `json:"durable_pings_per_second"`
	Latency                  Latency        `json:"latency_seconds"`
	Ratio                    float64        `json:"ratio"`

	// FailoverSeconds is from the kill to the first re-homed deadline
	// firing (its webhook arriving); HoldingSeconds to a survivor's
	// /healthz saying it holds the state.
	FailoverSeconds float64 `json:"failover_seconds"`
	HoldingSeconds  float64 `json:"holding_seconds"`
	// PingsAcked were answered 200 (warm-up included); PingsLost of them
	// are missing from their checks' counts afterwards (must be 0).
	PingsAcked int64 `json:"pings_acked"`
	PingsLost  int64 `json:"pings_lost"`
	// DuplicateFlipKeys is silent checks whose down flip was delivered
	// under more than one Idempotency-Key (must be 0); SilentNotified those
	// notified at all.
	DuplicateFlipKeys int `json:"duplicate_flip_keys"`
	SilentNotified    int `json:"silent_notified"`
	// FailoverErrors is the failover run's answers other than 200 (and
	// connection errors) from the surviving nodes; the killed one's own
	// refused connections are not counted.
	FailoverErrors int64  `json:"failover_errors"`
	FirstError     string `json:"first_error,omitempty"`
	ErrorCount     int64  `json:"errors"`
}

func (x *ClusterResult) ScenarioName() string { return x.Name }

// Errors is what must not happen: lost pings, duplicate keys, a flip not
// notified, errors outside the failover run.
func (x *ClusterResult) Errors() int64 {
	return x.PingsLost + int64(x.DuplicateFlipKeys) + int64(clusterSilent-x.SilentNotified) + x.ErrorCount
}

func (x *ClusterResult) rows() [][3]string {
	t := func(ok bool, target string) string {
		if ok {
			return target + " (met)"
		}
		return target + " (MISSED)"
	}
	var rows [][3]string
	for _, l := range x.Levels {
		rows = append(rows, [3]string{fmt.Sprintf("at %d conns: single / cluster pings/s", l.Conns),
			fmtCount(l.SingleNodePingsPerSecond) + " / " + fmtCount(l.DurablePingsPerSecond) + fmt.Sprintf(" (%.1f%%)", 100*l.Ratio),
			"p50 " + fmtSeconds(l.SingleNodeLatency.P50) + " / " + fmtSeconds(l.Latency.P50) +
				", CPU/ping " + fmtSeconds(l.SingleNodeCPUPerPing) + " / " + fmtSeconds(l.ClusterCPUPerPing)})
	}
	return append(rows, [][3]string{
		{"single node durable pings/s (best load)", fmtCount(x.SingleNodePingsPerSecond), ""},
		{fmt.Sprintf("%d-node cluster durable pings/s (best load)", x.Nodes), fmtCount(x.DurablePingsPerSecond), ""},
		{"ratio to the single node", fmt.Sprintf("%.1f%%", 100*x.Ratio), t(x.Ratio >= TargetClusterRatio, "≥ 50%")},
		{"cluster latency p50 / p99 (best load)", fmtSeconds(x.Latency.P50) + " / " + fmtSeconds(x.Latency.P99), ""},
		{"failover: kill → first re-homed deadline fired", fmtSeconds(x.FailoverSeconds), t(x.FailoverSeconds > 0 && x.FailoverSeconds <= TargetFailoverSeconds, "≤ 5 s")},
		{"failover: kill → a survivor holds the state", fmtSeconds(x.HoldingSeconds), ""},
		{"pings acknowledged / lost", fmt.Sprintf("%d / %d", x.PingsAcked, x.PingsLost), "0 lost"},
		{"silent checks notified / duplicate keys", fmt.Sprintf("%d of %d / %d", x.SilentNotified, clusterSilent, x.DuplicateFlipKeys), "0 duplicates"},
		{"failover run: survivors' answers other than 200", strconv.FormatInt(x.FailoverErrors, 10), ""},
	}...)
}

func (r *runner) clusterScenario(tmp string) (Result, error) {
	n := min(r.o.Checks, ClusterMaxChecks) // created through the API, twice
	if r.o.Quick {
		n = min(n, 500)
	}
	x := &ClusterResult{Name: ScenarioCluster, Checks: n, Conns: r.o.Conns, Nodes: 3, Projects: ClusterProjects}

	// The single node, in a child like the cluster's nodes.
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	single, err := r.startNode(nodeJob{DataDir: filepath.Join(tmp, "single"), Listen: addr})
	if err != nil {
		return nil, err
	}
	defer single.kill9()
	idsFile := filepath.Join(tmp, "cluster-ids")
	if _, _, err := r.createForLoad("http://"+addr, n, idsFile); err != nil {
		return nil, fmt.Errorf("single node: %w", err)
	}
	for _, c := range []int{r.o.Conns, min(clusterConnsFactor*r.o.Conns, MaxConns)} {
		r.progress("cluster: single node on %s: %d conns, %v", addr, c, r.o.Duration)
		one, err := r.loadJob(loadgenJob{Addr: addr, IDsFile: idsFile, Conns: c, Warmup: r.o.Warmup, Duration: r.o.Duration, Label: "cluster: single node"},
			procCPUMeter(single.cmd.Process.Pid))
		if err != nil {
			return nil, fmt.Errorf("single node: %w", err)
		}
		x.Levels = append(x.Levels, ClusterLevel{Conns: c, SingleNodePingsPerSecond: one.pingsPerSecond, SingleNodeLatency: one.latency,
			SingleNodeCPUPerPing: one.cpuPerPing()})
		if one.pingsPerSecond > x.SingleNodePingsPerSecond {
			x.SingleNodePingsPerSecond, x.SingleNodeLatency = one.pingsPerSecond, one.latency
		}
		x.ErrorCount += one.res.Errors
	}
	_ = single.stop()

	// The cluster.
	peers, err := loopbackPeers(3)
	if err != nil {
		return nil, err
	}
	procs := map[uint64]*nodeProc{}
	defer func() {
		for _, p := range procs {
			p.kill9()
		}
	}()
	for id := uint64(1); id <= 3; id++ {
		j := nodeJob{DataDir: filepath.Join(tmp, fmt.Sprintf("n%d", id)), ID: id, Peers: peers}
		if r.o.CPUProfile != "" {
			j.CPUProfile = fmt.Sprintf("%s.n%d", r.o.CPUProfile, id)
		}
		p, err := r.startNode(j)
		if err != nil {
			return nil, err
		}
		procs[id] = p
	}
	holder, err := waitHolder(peers, procs, time.Minute)
	if err != nil {
		return nil, err
	}
	r.progress("cluster: node %d holds the state", holder)
	base := "http://" + peers[1].API
	ids, projectKeys, err := r.createForLoad(base, n, idsFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	addrs := []string{peers[1].API, peers[2].API, peers[3].API}
	r.progress("cluster: steady load through %v", addrs)
	for _, p := range procs {
		p.signal(syscall.SIGUSR1)
	}
	// acked counts, per check, the steady runs' pings answered 200.
	acked := make([]int64, len(ids))
	for i := range x.Levels {
		l := &x.Levels[i]
		steady, err := r.loadJob(loadgenJob{Addrs: addrs, IDsFile: idsFile, Conns: l.Conns, Warmup: r.o.Warmup, Duration: r.o.Duration, Label: "cluster: steady", CountPerCheck: true},
			nodesCPU(procs))
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		l.DurablePingsPerSecond, l.Latency, l.ClusterCPUPerPing = steady.pingsPerSecond, steady.latency, steady.cpuPerPing()
		if l.SingleNodePingsPerSecond > 0 {
			l.Ratio = l.DurablePingsPerSecond / l.SingleNodePingsPerSecond
		}
		if l.DurablePingsPerSecond > x.DurablePingsPerSecond {
			x.DurablePingsPerSecond, x.Latency = l.DurablePingsPerSecond, l.Latency
		}
		x.ErrorCount += steady.res.Errors
		x.PingsAcked += steady.res.Answered
		for k := range min(len(acked), len(steady.res.Acked)) {
			acked[k] += steady.res.Acked[k]
		}
	}
	for _, p := range procs {
		p.signal(syscall.SIGUSR2)
	}
	if x.SingleNodePingsPerSecond > 0 {
		x.Ratio = x.DurablePingsPerSecond / x.SingleNodePingsPerSecond
	}

	// The failover: a webhook receiver, silent checks due every 100 ms from
	// silentLead after the kill on, and the same load, counting what was
	// acknowledged.
	rc, err := newHookReceiver()
	if err != nil {
		return nil, err
	}
	defer rc.close()
	api, err := newRemote(base, benchAPIKey)
	if err != nil {
		return nil, err
	}
	if code, b, err := api.do(context.Background(), http.MethodPost, "channels/",
		fmt.Appendf(nil, `{"name": "bench", "kind": "webhook", "config": {"url": %q}}`, rc.url)); err != nil || code != http.StatusCreated {
		return nil, fmt.Errorf("cluster: create the webhook channel: %d %s %v", code, truncate(b, 200), err)
	}
	var silent []string
	for i := range clusterSilent {
		code, b, err := api.do(context.Background(), http.MethodPost, "checks/",
			fmt.Appendf(nil, `{"name": "silent-%d", "timeout": 1, "grace": %d, "channels": "*"}`, i, silentGrace))
		var c struct {
			UUID string `json:"uuid"`
		}
		if err != nil || code != http.StatusCreated || json.Unmarshal(b, &c) != nil {
			return nil, fmt.Errorf("cluster: create silent check: %d %s %v", code, truncate(b, 200), err)
		}
		silent = append(silent, c.UUID)
	}
	failJob := loadgenJob{Addrs: addrs, IDsFile: idsFile, Conns: r.o.Conns, Warmup: 0, Duration: max(r.o.Duration, 6*time.Second),
		Label: "cluster: failover", CountPerCheck: true}
	var fail load
	var failErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		fail, failErr = r.loadJob(failJob, nil)
	}()
	// Silent check i is pinged at t0 + i·100 ms, the last one 2.9 s before
	// its deadline (timeout 1 s + grace 2 s): the kill comes at t0 + 3 s -
	// silentLead, so check i falls due silentLead + i·100 ms after it, and
	// no ping is in flight when it comes.
	due := time.Second + silentGrace*time.Second
	kill := due - silentLead
	time.Sleep(failJob.Duration/2 - kill)
	t0 := time.Now()
	for i, id := range silent {
		time.Sleep(time.Until(t0.Add(time.Duration(i) * 100 * time.Millisecond)))
		if code, _, err := getURL("http://" + addrs[i%3] + "/ping/" + id); err != nil || code != http.StatusOK {
			return nil, fmt.Errorf("cluster: ping silent check: %d %v", code, err)
		}
	}
	time.Sleep(time.Until(t0.Add(kill)))
	// The node that holds the silent checks now: a leadership may have
	// moved under the steady load, and killing another node would time
	// deadlines that were never re-homed.
	killed := leaderOfDefault(peers, procs, holder)
	killedAt := time.Now()
	procs[killed].kill9()
	delete(procs, killed)
	r.progress("cluster: node %d killed", killed)
	if h, err := waitHolder(peers, procs, time.Minute); err == nil {
		x.HoldingSeconds = time.Since(killedAt).Seconds()
		holder = h
		r.progress("cluster: node %d holds the state %.2fs after the kill", h, x.HoldingSeconds)
	}
	wg.Wait()
	if failErr != nil {
		return nil, fmt.Errorf("cluster: failover load: %w", failErr)
	}
	for a, n := range fail.res.ErrorsByAddr {
		if a != peers[killed].API {
			x.FailoverErrors += n
		}
	}
	if x.FailoverErrors > 0 {
		x.FirstError = fail.res.FirstError
	}
	x.PingsAcked += fail.res.Answered

	// Every acknowledged ping is counted in its check (n_pings), read
	// through a survivor.
	counts := map[string]int64{}
	for _, key := range projectKeys {
		survivor, err := newRemote("http://"+peers[holder].API, key)
		if err != nil {
			return nil, err
		}
		c, err := survivor.pingCounts(context.Background())
		if err != nil {
			return nil, err
		}
		maps.Copy(counts, c)
	}
	for i, id := range ids {
		a := acked[i]
		if i < len(fail.res.Acked) {
			a += fail.res.Acked[i]
		}
		// A ping answered 503 may have been recorded too: only a count
		// below what was acknowledged is a loss.
		if missing := a - counts[id.String()]; missing > 0 {
			x.PingsLost += missing
		}
	}
	keys := rc.waitKeys(silent, 30*time.Second)
	for _, id := range silent {
		if k := len(keys.byCheck[id]); k > 0 {
			x.SilentNotified++
			if k > 1 {
				x.DuplicateFlipKeys++
			}
		}
	}
	first, before := keys.firstFrom(killedAt)
	if before > 0 {
		// The kill came late (a slow ping or status read under the load):
		// those deadlines fell before it, on the node that held them.
		r.progress("cluster: %d silent checks were notified before the kill: not re-homed, not counted in the failover", before)
	}
	if !first.IsZero() {
		x.FailoverSeconds = first.Sub(killedAt).Seconds()
	}
	r.progress("cluster: failover %.2fs to the first re-homed deadline, %d pings acknowledged, %d lost", x.FailoverSeconds, x.PingsAcked, x.PingsLost)
	return x, nil
}

// createForLoad creates ClusterProjects projects through base's admin
// API and n checks spread over them through the Healthchecks.io API, and
// writes the checks' ids, one a line, for the load generator; it returns
// the ids and the projects' keys.
func (r *runner) createForLoad(base string, n int, idsFile string) ([]uuid.UUID, []string, error) {
	t0 := time.Now()
	var ids []uuid.UUID
	var keys []string
	for p := range ClusterProjects {
		// Project p in shard p: a backend with many customers has them
		// spread evenly over the shards; 12 projects placed at random would
		// leave some shards with none and others with three, and the rate
		// would measure the placement. A single node ignores the header.
		code, b, err := adminCall(base, http.MethodPost, "/admin/v1/projects", fmt.Sprintf(`{"name": "bench-%d"}`, p),
			"X-Vigilo-Shard", strconv.Itoa(p%cluster.DefaultShards))
		var made struct {
			APIKey string `json:"api_key"`
		}
		if err != nil || code != http.StatusCreated || json.Unmarshal(b, &made) != nil {
			return nil, nil, fmt.Errorf("create project: %d %s %v", code, truncate(b, 200), err)
		}
		rem, err := newRemote(base, made.APIKey)
		if err != nil {
			return nil, nil, err
		}
		k := n / ClusterProjects
		if p < n%ClusterProjects {
			k++
		}
		made2, err := rem.createChecks(context.Background(), k, fmt.Sprintf("bench-cluster-%d", p), r.progress)
		if err != nil {
			return nil, nil, err
		}
		ids, keys = append(ids, made2...), append(keys, made.APIKey)
	}
	r.progress("cluster: %d checks in %d projects created through %s in %.1fs", n, ClusterProjects, base, time.Since(t0).Seconds())
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(id.String())
		b.WriteByte('\n')
	}
	return ids, keys, os.WriteFile(idsFile, []byte(b.String()), 0o644)
}

// adminCall makes one request to the admin API with the bench's admin key;
// header is name, value pairs.
func adminCall(base, method, path, body string, header ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchAdminKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := shortClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// pingCounts is n_pings by check uuid, from the Healthchecks.io list.
func (r *remote) pingCounts(ctx context.Context) (map[string]int64, error) {
	// Not r.do, which caps answers at 1 MiB: the list of 100,000 checks
	// is larger.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.apiURL("checks/"), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Api-Key", r.apiKey)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list checks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list checks: %s", resp.Status)
	}
	var list struct {
		Checks []struct {
			UUID   string `json:"uuid"`
			NPings int64  `json:"n_pings"`
		} `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("list checks: %w", err)
	}
	out := make(map[string]int64, len(list.Checks))
	for _, c := range list.Checks {
		out[c.UUID] = c.NPings
	}
	return out, nil
}

// leaderOfDefault is the running node that leads the default project's
// shard by its own /healthz; fallback when none says so.
func leaderOfDefault(peers map[uint64]cluster.Peer, running map[uint64]*nodeProc, fallback uint64) uint64 {
	for id := range running {
		if h, ok := nodeHealth(peers[id]); ok && leadsDefault(h) {
			return id
		}
	}
	return fallback
}

// nodeHealth is the node's /healthz; false unless it answered 200.
func nodeHealth(p cluster.Peer) (cluster.Health, bool) {
	var h cluster.Health
	code, b, err := getURL("http://" + p.API + "/healthz")
	return h, err == nil && code == http.StatusOK && json.Unmarshal(b, &h) == nil
}

// leadsDefault says whether h's node leads the default project's shard.
func leadsDefault(h cluster.Health) bool {
	return slices.Contains(h.Led, cluster.ShardOf(engine.DefaultProjectID[:], h.Shards))
}

// waitHolder waits until every running node's /healthz is 200 and names
// the same leader for every shard, and returns the leader of the default
// project's shard (where the scenario's silent checks are), once it runs
// that shard's engine and the leaderships are spread evenly.
func waitHolder(peers map[uint64]cluster.Peer, running map[uint64]*nodeProc, limit time.Duration) (uint64, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var holder uint64
		var leaders string
		agree := true
		lo, hi, total, shards := 1<<30, 0, 0, 0
		for id := range running {
			h, ok := nodeHealth(peers[id])
			if !ok {
				agree = false
				continue
			}
			if l := fmt.Sprint(h.Leaders); leaders == "" {
				leaders = l
			} else if l != leaders {
				agree = false
			}
			if leadsDefault(h) {
				holder = id
			}
			lo, hi, total = min(lo, len(h.Led)), max(hi, len(h.Led)), total+len(h.Led)
			shards = h.Shards
		}
		// Balanced, too: the balancer moves no more leaderships, which
		// would otherwise land in the measured window.
		if hi-lo > 1 || total != shards {
			agree = false
		}
		if holder != 0 && agree {
			return holder, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("cluster: no node holds the state after %v", limit)
}

var shortClient = &http.Client{Timeout: 5 * time.Second}

func getURL(u string) (int, []byte, error) {
	resp, err := shortClient.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// loopbackPeers is nodes 1 to n, each with a free raft and API address on
// loopback.
func loopbackPeers(n uint64) (map[uint64]cluster.Peer, error) {
	peers := map[uint64]cluster.Peer{}
	for id := uint64(1); id <= n; id++ {
		api, err1 := freeLoopback()
		raft, err2 := freeLoopback()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("free ports: %v %v", err1, err2)
		}
		peers[id] = cluster.Peer{Raft: raft, API: api}
	}
	return peers, nil
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// hookReceiver is the webhook the silent checks alert: it keeps each
// check's Idempotency-Keys and when the first delivery arrived.
type hookReceiver struct {
	srv *http.Server
	ln  net.Listener
	url string

	mu      sync.Mutex
	byCheck map[string]map[string]bool
	firstAt map[string]time.Time // each check's first down delivery
}

type hookKeys struct {
	byCheck map[string]map[string]bool
	firstAt map[string]time.Time
}

// firstFrom is the earliest first delivery at or after t, and how many
// checks were first delivered before t: those whose deadline the killed
// node met itself, which time no failover.
func (k hookKeys) firstFrom(t time.Time) (first time.Time, before int) {
	for _, at := range k.firstAt {
		switch {
		case at.Before(t):
			before++
		case first.IsZero() || at.Before(first):
			first = at
		}
	}
	return first, before
}

func newHookReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &hookReceiver{ln: ln, url: "http://" + ln.Addr().String() + "/hook", byCheck: map[string]map[string]bool{}, firstAt: map[string]time.Time{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		b, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		var body struct {
			Check struct {
				UUID string `json:"uuid"`
			} `json:"check"`
			Event string `json:"event"`
		}
		_ = json.Unmarshal(b, &body)
		id := body.Check.UUID
		if body.Event != "down" {
			w.WriteHeader(http.StatusOK)
			return
		}
		rc.mu.Lock()
		if _, ok := rc.firstAt[id]; !ok {
			rc.firstAt[id] = at
		}
		if rc.byCheck[id] == nil {
			rc.byCheck[id] = map[string]bool{}
		}
		rc.byCheck[id][req.Header.Get("Idempotency-Key")] = true
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln) //nolint:errcheck // close ends it
	return rc, nil
}

// waitKeys waits until every check in ids was delivered, or limit, and
// returns what the receiver holds for them.
func (rc *hookReceiver) waitKeys(ids []string, limit time.Duration) hookKeys {
	deadline := time.Now().Add(limit)
	for {
		rc.mu.Lock()
		all := true
		for _, id := range ids {
			if len(rc.byCheck[id]) == 0 {
				all = false
			}
		}
		if all || time.Now().After(deadline) {
			out := hookKeys{byCheck: map[string]map[string]bool{}, firstAt: map[string]time.Time{}}
			for _, id := range ids {
				if at, ok := rc.firstAt[id]; ok {
					out.byCheck[id], out.firstAt[id] = maps.Clone(rc.byCheck[id]), at
				}
			}
			rc.mu.Unlock()
			return out
		}
		rc.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

func (rc *hookReceiver) close() { _ = rc.srv.Close() }

// nodesCPU meters the CPU time of every node process together.
func nodesCPU(procs map[uint64]*nodeProc) cpuMeter {
	var meters []cpuMeter
	for _, p := range procs {
		meters = append(meters, procCPUMeter(p.cmd.Process.Pid))
	}
	return func() (time.Duration, error) {
		var sum time.Duration
		for _, m := range meters {
			d, err := m()
			if err != nil {
				return 0, err
			}
			sum += d
		}
		return sum, nil
	}
}

// cpuPerPing is the server CPU seconds per ping answered in the window
// (0 when it was not metered).
func (l load) cpuPerPing() float64 {
	if !l.serverCPUKnown || l.res.Requests == 0 {
		return 0
	}
	return l.serverCPU.Seconds() / float64(l.res.Requests)
}
