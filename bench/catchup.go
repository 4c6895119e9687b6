package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/cluster"
)

// The catchup scenario: a cluster node that comes back after its shards'
// logs were cut, and an empty node that joins, each catching up by
// snapshots, with the state seeded through the API. What a capacity
// planner asks: how long until a replacement holds its share, and what it
// costs the machine (memory, disk writes, compactions after).
const (
	catchupChecks = 48 // 4 per project: each check's log holds many bodies
	catchupPings  = 40_000
	catchupBody   = 8 << 10
	// Quick: a few MiB of state, still a snapshot per shard.
	catchupQuickPings = 3_000
	catchupQuickBody  = 1 << 10
	// catchupCompactEvery cuts each shard's log often, so the node that
	// comes back finds its position cut and is sent snapshots.
	catchupCompactEvery = 20
	catchupConns        = 32
	// catchupLimit bounds each wait: a node catching up, compactions
	// settling.
	catchupLimit = 5 * time.Minute
)

// CatchupNode is one node catching up.
type CatchupNode struct {
	// Seconds is from the node's start to its applying, in every shard,
	// what the other nodes have; ShareSeconds to its leading its share of
	// the shards (the balancer hands them over).
	Seconds      float64 `json:"seconds"`
	ShareSeconds float64 `json:"share_seconds"`
	Led          int     `json:"led"`
	// PeakRSSBytes is the node's VmHWM once caught up.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Its vigilo_raft_snapshots_total installed and excised, and bytes
	// of tables ingested, once caught up.
	SnapshotsInstalled float64 `json:"snapshots_installed"`
	SnapshotsExcised   float64 `json:"snapshots_excised"`
	IngestedBytes      float64 `json:"ingested_bytes"`
	// SettleSeconds is from leading its share (or giving up on it) to its
	// compactions stopping (none running, nothing more compacted, three
	// looks in a row; at most settleLimit, Settled says whether they did);
	// CompactedBytes is what compactions wrote from its start to then,
	// DebtBytes the compaction Pebble still estimates it owes, and
	// DiskWrittenBytes all the node wrote (/proc/<pid>/io write_bytes).
	SettleSeconds    float64 `json:"settle_seconds"`
	Settled          bool    `json:"settled"`
	CompactedBytes   float64 `json:"compacted_bytes"`
	DebtBytes        float64 `json:"compaction_debt_bytes"`
	DiskWrittenBytes int64   `json:"disk_written_bytes"`
}

// CatchupResult is the catchup scenario's figures.
type CatchupResult struct {
	Name      string `json:"name"`
	Checks    int    `json:"checks"`
	BodyBytes int    `json:"body_bytes"`
	// PingsAcked were answered 200 while seeding, half before the restarted
	// node was killed and half while it was down; StateBytes is a live
	// node's disk use after.
	PingsAcked int64 `json:"pings_acked"`
	StateBytes int64 `json:"state_bytes"`
	// Restart is the killed node started again on its data; Join an empty
	// node added with cluster.Options.Join.
	Restart CatchupNode `json:"restart"`
	Join    CatchupNode `json:"join"`
	// PingsLost are acknowledged pings missing from their checks' counts
	// read through the joined node (must be 0).
	PingsLost  int64  `json:"pings_lost"`
	ErrorCount int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}

func (x *CatchupResult) ScenarioName() string { return x.Name }

// Errors is lost pings and seeding errors.
func (x *CatchupResult) Errors() int64 { return x.PingsLost + x.ErrorCount }

func settledNote(c CatchupNode) string {
	state := "settled "
	if !c.Settled {
		state = "not settled "
	}
	return state + fmtSeconds(c.SettleSeconds) + " after leading its share"
}

func (x *CatchupResult) rows() [][3]string {
	mb := func(v float64) string { return fmt.Sprintf("%.1f MB", v/1e6) }
	node := func(name string, c CatchupNode) [][3]string {
		return [][3]string{
			{name + ": caught up / leads its share", fmtSeconds(c.Seconds) + " / " + fmtSeconds(c.ShareSeconds), fmt.Sprintf("%d shards led", c.Led)},
			{name + ": snapshots installed / excised", fmt.Sprintf("%.0f / %.0f", c.SnapshotsInstalled, c.SnapshotsExcised), mb(c.IngestedBytes) + " ingested"},
			{name + ": peak RSS", mb(float64(c.PeakRSSBytes)), ""},
			{name + ": written to disk / by compactions, to settled", mb(float64(c.DiskWrittenBytes)) + " / " + mb(c.CompactedBytes),
				settledNote(c) + ", " + mb(c.DebtBytes) + " compaction owed"},
		}
	}
	rows := [][3]string{{"state seeded through the API", fmt.Sprintf("%s pings of %d B to %d checks", fmtCount(float64(x.PingsAcked)), x.BodyBytes, x.Checks), mb(float64(x.StateBytes)) + " on disk per node"}}
	rows = append(rows, node("restarted node", x.Restart)...)
	rows = append(rows, node("empty node joining", x.Join)...)
	return append(rows, [3]string{"pings acknowledged / lost", fmt.Sprintf("%d / %d", x.PingsAcked, x.PingsLost), "0 lost"})
}

func (r *runner) catchupScenario(tmp string) (Result, error) {
	pings, body := catchupPings, catchupBody
	if r.o.Quick {
		pings, body = catchupQuickPings, catchupQuickBody
	}
	x := &CatchupResult{Name: ScenarioCatchup, Checks: catchupChecks, BodyBytes: body}
	peers, err := loopbackPeers(4)
	if err != nil {
		return nil, err
	}
	first := map[uint64]cluster.Peer{1: peers[1], 2: peers[2], 3: peers[3]}
	procs := map[uint64]*nodeProc{}
	defer func() {
		for _, p := range procs {
			p.kill9()
		}
	}()
	job := func(id uint64, ps map[uint64]cluster.Peer, join bool) nodeJob {
		return nodeJob{DataDir: filepath.Join(tmp, fmt.Sprintf("catchup-n%d", id)), ID: id, Peers: ps, Join: join,
			CompactEvery: catchupCompactEvery, PingLogLimit: pings}
	}
	for id := uint64(1); id <= 3; id++ {
		p, err := r.startNode(job(id, first, false))
		if err != nil {
			return nil, err
		}
		procs[id] = p
	}
	if _, err := waitHolder(peers, procs, time.Minute); err != nil {
		return nil, err
	}
	ids, keys, err := r.createForLoad("http://"+peers[1].API, catchupChecks, filepath.Join(tmp, "catchup-ids"))
	if err != nil {
		return nil, fmt.Errorf("catchup: %w", err)
	}
	acked := make([]int64, len(ids))
	seed := func(addrs []string, n int) {
		t0 := time.Now()
		errs, first := seedPings(addrs, ids, n, body, acked)
		x.ErrorCount += errs
		if errs > 0 && x.FirstError == "" {
			x.FirstError = first
		}
		r.progress("catchup: %d pings of %d B through %v in %.1fs, %d failed", n, body, addrs, time.Since(t0).Seconds(), errs)
	}
	seed([]string{peers[1].API, peers[2].API, peers[3].API}, pings/2)
	procs[3].kill9()
	delete(procs, 3)
	if _, err := waitHolder(peers, procs, time.Minute); err != nil {
		return nil, err
	}
	seed([]string{peers[1].API, peers[2].API}, pings-pings/2)
	if m, err := scrapeMetrics(shortClient, "http://"+peers[1].API); err == nil {
		x.StateBytes = int64(m["vigilo_pebble_disk_usage_bytes"])
	}

	p, c, err := r.catchUp(job(3, first, false), peers, procs)
	if err != nil {
		return nil, fmt.Errorf("catchup: restarted node: %w", err)
	}
	procs[3], x.Restart = p, c
	r.progress("catchup: node 3 restarted and caught up in %.2fs (%.0f snapshots)", c.Seconds, c.SnapshotsInstalled)
	p, c, err = r.catchUp(job(4, peers, true), peers, procs)
	if err != nil {
		return nil, fmt.Errorf("catchup: joining node: %w", err)
	}
	procs[4], x.Join = p, c
	r.progress("catchup: node 4 joined and caught up in %.2fs (%.0f snapshots)", c.Seconds, c.SnapshotsInstalled)

	// Every acknowledged ping is in its check's count, read through the
	// node that joined empty.
	counts := map[string]int64{}
	for _, key := range keys {
		rem, err := newRemote("http://"+peers[4].API, key)
		if err != nil {
			return nil, err
		}
		got, err := rem.pingCounts(context.Background())
		if err != nil {
			return nil, fmt.Errorf("catchup: %w", err)
		}
		maps.Copy(counts, got)
	}
	for i, id := range ids {
		x.PingsAcked += acked[i]
		if missing := acked[i] - counts[id.String()]; missing > 0 {
			x.PingsLost += missing
		}
	}
	return x, nil
}

// catchUp starts j's node and times it to caught up, to its share of the
// shards, and to its compactions settled, among the running nodes, which
// it joins.
func (r *runner) catchUp(j nodeJob, peers map[uint64]cluster.Peer, running map[uint64]*nodeProc) (*nodeProc, CatchupNode, error) {
	var c CatchupNode
	t0 := time.Now()
	p, err := r.startNode(j)
	if err != nil {
		return nil, c, err
	}
	pid := p.cmd.Process.Pid
	others := maps.Clone(running)
	all := maps.Clone(running)
	all[j.ID] = p
	deadline := t0.Add(catchupLimit)
	for !caughtUp(peers[j.ID], peers, others) {
		if time.Now().After(deadline) {
			p.kill9()
			return nil, c, fmt.Errorf("node %d not caught up after %v", j.ID, catchupLimit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	caught := time.Now()
	c.Seconds = caught.Sub(t0).Seconds()
	c.PeakRSSBytes = procKB(fmt.Sprintf("/proc/%d/status", pid), "VmHWM") << 10
	if m, err := scrapeMetrics(shortClient, "http://"+peers[j.ID].API); err == nil {
		c.SnapshotsInstalled = m[`vigilo_raft_snapshots_total{step="installed"}`]
		c.SnapshotsExcised = m[`vigilo_raft_snapshots_total{step="excised"}`]
		c.IngestedBytes = m["vigilo_pebble_ingested_bytes_total"]
	}
	if _, err := waitHolder(peers, all, time.Minute); err == nil {
		c.ShareSeconds = time.Since(t0).Seconds()
	}
	if h, ok := nodeHealth(peers[j.ID]); ok {
		c.Led = len(h.Led)
	}
	// Settled: no compaction running and nothing more compacted, three
	// looks in a row. (Not "no debt": Pebble may leave some for good.)
	quiet, compacted := 0, -1.0
	settleFrom := time.Now() // its own limit: the catch-up's waits do not eat into it
	for settleEnd := settleFrom.Add(settleLimit); quiet < 3 && time.Now().Before(settleEnd); {
		time.Sleep(500 * time.Millisecond)
		m, err := scrapeMetrics(shortClient, "http://"+peers[j.ID].API)
		if err != nil {
			continue
		}
		if now := m["vigilo_pebble_compacted_bytes_total"]; m["vigilo_pebble_compactions_running"] == 0 && now == compacted {
			quiet++
		} else {
			quiet, compacted = 0, now
		}
		c.CompactedBytes, c.DebtBytes = compacted, m["vigilo_pebble_compaction_debt_bytes"]
	}
	c.SettleSeconds, c.Settled = time.Since(settleFrom).Seconds(), quiet >= 3
	c.DiskWrittenBytes = procKB(fmt.Sprintf("/proc/%d/io", pid), "write_bytes")
	return p, c, nil
}

// caughtUp says whether node's /healthz is 200 and it has applied, in
// every shard, what each of the others has.
func caughtUp(node cluster.Peer, peers map[uint64]cluster.Peer, others map[uint64]*nodeProc) bool {
	h, ok := nodeHealth(node)
	if !ok || len(h.Applied) == 0 {
		return false
	}
	for id := range others {
		o, ok := nodeHealth(peers[id])
		if !ok || len(o.Applied) != len(h.Applied) {
			return false
		}
		for i, a := range o.Applied {
			if h.Applied[i] < a {
				return false
			}
		}
	}
	return true
}

// seedPings sends n pings with bodies of size bytes to ids round-robin,
// over catchupConns connections spread over addrs, counting in acked
// (by the index of the check) those answered 200; it returns the failures
// and the first.
func seedPings(addrs []string, ids []uuid.UUID, n, size int, acked []int64) (int64, string) {
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range catchupConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			addr := addrs[c%len(addrs)]
			// Bodies of random hex, each its own: a log's text compresses
			// by about as much, where repeated bodies would compress away.
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			raw, payload := make([]byte, size/2), make([]byte, size/2*2)
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				k := i % len(ids)
				for j := 0; j+8 <= len(raw); j += 8 {
					binary.LittleEndian.PutUint64(raw[j:], rng.Uint64())
				}
				hex.Encode(payload, raw)
				resp, err := client.Post("http://"+addr+"/ping/"+ids[k].String(), "text/plain", bytes.NewReader(payload))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("ping: %s", resp.Status)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				acked[k]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	first, _ := firstErr.Load().(string)
	return failed.Load(), first
}

// scrapeMetrics is base's /metrics, series (name and labels, as exposed)
// to value.
func scrapeMetrics(c *http.Client, base string) (map[string]float64, error) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// procKB is a /proc file's field as a number (kB for the status file's,
// bytes for io's); 0 when absent.
func procKB(path, field string) int64 {
	v, _ := strconv.ParseInt(strings.TrimSuffix(procField(path, field), " kB"), 10, 64)
	return v
}
