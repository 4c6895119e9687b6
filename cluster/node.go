package cluster

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/vigilo/vigilo/cluster/raftlog"
	"github.com/vigilo/vigilo/engine"
	"github.com/vigilo/vigilo/engine/store"
)

// Peer is one node's addresses.
type Peer struct {
	Raft string `json:"raft"` // host:port of its cluster listener (raft messages, members)
	API  string `json:"api"`  // host:port of its API listener (pings, APIs, /healthz, /metrics)
}

// Options configure a cluster node. Zero values mean the documented default.
type Options struct {
	// ID is this node's id in Peers: non-zero, never reused.
	ID uint64
	// Peers is every node, this one included, the same on every node.
	Peers map[uint64]Peer
	// Engine is the engine this node runs while it holds the shard; its
	// DataDir is the node's data directory. Listen, Store and MetricsListen
	// are the node's to set.
	Engine engine.Options
	// Tick is raft's tick; default 100 ms. ElectionTicks is the election
	// timeout in ticks; default 10 (1–2 s).
	Tick          time.Duration
	ElectionTicks int
	// Wait is how long a request waits for a leader during a failover
	// before it is answered 503; default 5 s.
	Wait time.Duration
	// Join starts a node that is not among the cluster's first members: it
	// starts empty and asks the members in Peers to add it (join.go), then
	// receives a snapshot and the log after it. Peers must name it and at
	// least one member. Without Shards, an empty joiner's Open first asks
	// the members for the shard count, for up to 30 s.
	Join bool
	// Secret, when set, is required of every request to the cluster
	// listeners (auth.go), and sent by this node to its peers: the same on
	// every node.
	Secret string
	// CompactEvery is how many raft entries are applied between two cuts
	// of the log, which keep the last half of them; default 10,000 (see
	// raftlog.Options). A node that needs what was cut is sent a snapshot.
	CompactEvery int
	// Balance is how often the node looks whether it leads more shards
	// than its share and hands one over (balance.go); default 2 s,
	// negative never.
	Balance time.Duration
	// Shards is how many virtual shards the cluster has, the same on every
	// node and for the cluster's life (a data directory made with another
	// number is refused, and so is a peer started with another); at most
	// store.MaxSpaces. Zero: the data directory's count, or for an empty
	// one the cluster's when joining (asked of a member), else
	// DefaultShards (shardcount.go).
	Shards int
	// TLS, when set, secures the cluster listeners (tls.go): the node
	// serves only TLS there, takes only clients whose certificate RootCAs
	// (or ClientCAs) signed, and dials its peers with Certificates. Nil:
	// plain TCP, for loopback or a private network. LoadTLS makes one.
	TLS *tls.Config
	// Logger gets the node's log; default Engine.Logger, else slog.Default().
	Logger *slog.Logger
}

// Validate reports the first option that cannot work.
func (o Options) Validate() error {
	switch {
	case o.ID == 0:
		return errors.New("cluster: node id is 0")
	case len(o.Peers) < 1:
		return errors.New("cluster: no peers")
	case o.Join && len(o.Peers) < 2:
		return errors.New("cluster: a joiner needs a member of the cluster among its peers to ask")
	case o.Engine.DataDir == "":
		return errors.New("cluster: no data directory")
	case o.Shards < 0 || o.Shards > store.MaxSpaces:
		return fmt.Errorf("cluster: %d shards: want 1 to %d", o.Shards, store.MaxSpaces)
	case o.Engine.MetricsListen != "":
		return errors.New("cluster: a separate metrics listener is not built; /metrics is on the API listener")
	}
	if err := validateTLS(o.TLS); err != nil {
		return err
	}
	// Checked here, not when the node first leads: an engine that cannot
	// start would leave the cluster led by a node that serves nothing.
	eo := o.Engine
	eo.Store = nil
	if p, ok := o.Peers[o.ID]; ok {
		eo.Listen = p.API
	}
	if err := eo.WithDefaults().Validate(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	self, ok := o.Peers[o.ID]
	if !ok {
		return fmt.Errorf("cluster: node %d is not among the peers", o.ID)
	}
	for id, p := range o.Peers {
		if id == 0 {
			return errors.New("cluster: a peer has id 0")
		}
		for _, a := range []string{p.Raft, p.API} {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("cluster: peer %d address %q: %w", id, a, err)
			}
		}
	}
	if self.Raft == self.API {
		return fmt.Errorf("cluster: node %d uses %s for both raft and API", o.ID, self.API)
	}
	return nil
}

// DefaultShards is how many virtual shards a new cluster has: 12 leaders
// spread evenly over 2, 3, 4, 6 or 12 nodes. It is fixed for the life of
// the cluster.
const DefaultShards = 12

// Node is one vigilo node of a cluster: its store, the replicated log of
// each virtual shard, an engine for each shard it leads, and the API
// listener, which forwards a request for another shard to its leader.
type Node struct {
	o    Options
	log  *slog.Logger
	st   *store.Store
	raft *raftlog.Node
	tr   *transport
	reg  *prometheus.Registry
	// hosts are the shards, by id: each one's key space and its engine
	// while this node leads it.
	hosts []*shardHost
	keys  keyShards
	m     metrics
	front *fasthttp.Server
	inner *fasthttp.Server
	// lns are the servers' listeners, closed by Close too: a Shutdown that
	// runs before Serve has taken its listener does not stop it.
	lns []net.Listener

	// fwd carries requests for shards led elsewhere to their leaders.
	fwd *forwarder
	// snapClient fetches snapshots' states from leaders.
	snapClient *http.Client
	// bearer is the Authorization value of Options.Secret.
	bearer []byte
	// shards is Options.Shards, as every request to a peer carries it
	// (shardsHeader).
	shards string

	// peers is the member directory: Options.Peers, then what membership
	// changes of shard 0 made of it (stored with them, and loaded at
	// start).
	peersMu sync.RWMutex
	peers   map[uint64]Peer

	stop chan struct{}
	wg   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// shardHost is one virtual shard on this node: its key space in the
// node's store, replicated through the shard's raft group, and the engine
// that runs its checks while this node leads it.
type shardHost struct {
	id  uint32
	st  *store.Store
	eng atomic.Pointer[engine.Engine]
	// term is the raft term the running engine was opened in (watch's).
	term uint64
	// draining holds new requests back while a handover waits for those
	// in the engine (active) to finish (handOver).
	draining atomic.Bool
	active   atomic.Int64
	// handing is set while a handover of the shard runs: one at a time.
	handing atomic.Bool
}

// serve has the engine answer, unless a handover is draining it; false
// when it did not.
func (h *shardHost) serve(ctx *fasthttp.RequestCtx) bool {
	e := h.eng.Load()
	if e == nil || h.draining.Load() {
		return false
	}
	h.active.Add(1)
	defer h.active.Add(-1)
	if h.draining.Load() {
		return false // it began between the two looks: handOver waits for active
	}
	e.Handler()(ctx)
	return true
}

type metrics struct {
	forwarded   prometheus.Counter
	holding     prometheus.Gauge
	engines     prometheus.Counter
	fenceRounds prometheus.Counter
	transfers   prometheus.Counter
	// shardMismatch is peers' requests refused for another shard count.
	shardMismatch prometheus.Counter
}

// Open opens the node's store and log and starts its listeners; the engine
// starts once this node holds the leadership.
func Open(o Options) (*Node, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Tick == 0 {
		o.Tick = raftlog.DefaultTick
	}
	if o.Wait == 0 {
		o.Wait = 5 * time.Second
	}
	if o.Balance == 0 {
		o.Balance = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = o.Engine.Logger
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	n := &Node{o: o, log: o.Logger.With("node", o.ID), reg: prometheus.NewRegistry(),
		stop: make(chan struct{}), peers: map[uint64]Peer{},
	}
	n.snapClient = n.peerClient(0, 1)
	if o.Secret != "" {
		n.bearer = []byte("Bearer " + o.Secret)
	}
	n.m = metrics{
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigilo_cluster_forwarded_requests_total", Help: "Requests this node forwarded to the leader.",
		}),
		holding: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigilo_cluster_shards_led", Help: "Shards this node leads and runs the engine of.",
		}),
		engines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigilo_cluster_engine_starts_total", Help: "Times this node took over a shard and started its engine.",
		}),
	}
	n.m.fenceRounds = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigilo_cluster_fence_rounds_total", Help: "Leadership confirmations through a quorum before alerts went out.",
	})
	n.m.transfers = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigilo_cluster_leadership_transfers_total", Help: "Shard leaderships this node handed to a member that led fewer.",
	})
	n.m.shardMismatch = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigilo_cluster_shard_count_refused_total", Help: "Requests from a peer started with another --cluster-shards, refused.",
	})
	n.reg.MustRegister(n.m.forwarded, n.m.holding, n.m.engines, n.m.fenceRounds, n.m.transfers, n.m.shardMismatch)
	ids := slices.Sorted(func(yield func(uint64) bool) {
		for id := range o.Peers {
			if !yield(id) {
				return
			}
		}
	})
	// The root store holds the raft logs and applies what they commit; the
	// engines write through their shards' key spaces.
	st, err := store.Open(store.Options{Dir: o.Engine.DataDir, PingLogLimit: o.Engine.PingLogLimit})
	if err != nil {
		return nil, err
	}
	n.st = st
	if err := store.RegisterDatabaseMetrics(n.reg, st); err != nil {
		st.Close()
		return nil, err
	}
	if o.Shards, err = n.shardCount(st, o.Shards); err != nil {
		st.Close()
		return nil, err
	}
	n.o.Shards = o.Shards
	n.shards = strconv.Itoa(o.Shards)
	n.fwd = newForwarder(n.bearer, n.shards, o.TLS)
	for i := range o.Shards {
		h := &shardHost{id: uint32(i)}
		h.st, err = st.Space(i, store.SpaceOptions{Replicate: func(repr []byte, done func(error)) {
			n.raft.Propose(h.id, repr, func(_ uint64, err error) { done(err) })
		}})
		if err != nil {
			st.Close()
			return nil, err
		}
		n.hosts = append(n.hosts, h)
	}
	maps.Copy(n.peers, o.Peers)
	if v, err := st.ClusterMembers(); err != nil || v != nil {
		var stored map[uint64]Peer
		if err == nil {
			err = json.Unmarshal(v, &stored)
		}
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("cluster: stored members: %w", err)
		}
		// What membership changes made wins over the flags: a member
		// added later is in it, one removed is not.
		n.peers = stored
	}
	n.tr = newTransport(o.ID, n.peers, n.bearer, n.shards, o.TLS, n.log)
	n.raft, err = raftlog.Open(raftlog.Options{
		ID: o.ID, Peers: ids, Shards: o.Shards, Store: st, Transport: n.tr, Join: o.Join,
		StateSpan:    func(shard uint32) (lo, hi []byte) { return store.SpaceSpan(int(shard)) },
		OnConfChange: n.onConfChange,
		CompactEvery: o.CompactEvery, CompactKeep: (o.CompactEvery + 1) / 2,
		FetchSnapshot: n.fetchSnapshot, OnInstall: n.onInstall,
		Tick: o.Tick, ElectionTicks: o.ElectionTicks,
		// One entry may carry a whole project's deletion.
		MaxEntryBytes: 64 << 20,
		Logger:        n.log, Registry: n.reg,
	})
	if err != nil {
		n.tr.close()
		st.Close()
		return nil, err
	}
	if err := n.listen(); err != nil {
		n.Close()
		return nil, err
	}
	n.wg.Add(1)
	go n.watch()
	if o.Balance > 0 {
		n.wg.Add(1)
		go n.balance()
	}
	if o.Join {
		n.wg.Add(1)
		go n.askToJoin()
	}
	return n, nil
}

// refuseOtherData refuses a data directory that has engine data but no
// raft log (a single node's), or raft logs for another number of shards.
// A single node's data would stay on this node alone (replicated commands
// are changes to what each replica already has), and be lost at the first
// failover: turning a single node into a cluster is not built. Data made
// with another shard count has its checks where this count's hash does not
// look for them.
func refuseOtherData(st *store.Store, shards int) error {
	first, err := st.RaftState(0)
	if err != nil {
		return err
	}
	if first == nil {
		projects, err := st.Projects()
		if err != nil {
			return err
		}
		if len(projects) > 0 {
			return fmt.Errorf("cluster: %s holds a single node's data (%d projects): a cluster node starts from an empty data directory", st.Options().Dir, len(projects))
		}
		return nil
	}
	last, err := st.RaftState(uint32(shards - 1))
	if err != nil {
		return err
	}
	beyond, err := st.RaftState(uint32(shards))
	if err != nil {
		return err
	}
	if last == nil || beyond != nil {
		return fmt.Errorf("cluster: %s was made for another number of shards than %d: the shard count is fixed for a cluster's life (a joiner refused for its count holds nothing yet: start it again from an empty directory)", st.Options().Dir, shards)
	}
	return nil
}

func (n *Node) listen() error {
	self := n.o.Peers[n.o.ID]
	inner, err := net.Listen("tcp", self.Raft)
	if err != nil {
		return fmt.Errorf("cluster: listen %s: %w", self.Raft, err)
	}
	if n.o.TLS != nil {
		inner = tls.NewListener(inner, serverTLS(n.o.TLS))
	}
	front, err := net.Listen("tcp", self.API)
	if err != nil {
		inner.Close()
		return fmt.Errorf("cluster: listen %s: %w", self.API, err)
	}
	n.inner = &fasthttp.Server{Handler: n.serveRaft, Name: "vigilo", MaxRequestBodySize: 128 << 20,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, NoDefaultServerHeader: true}
	n.front = &fasthttp.Server{Handler: n.serveFront, Name: "vigilo", MaxRequestBodySize: 4 << 20,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		NoDefaultContentType: true, NoDefaultServerHeader: true}
	n.lns = []net.Listener{inner, front}
	n.warnIfOpen(self.Raft)
	for _, s := range []struct {
		srv *fasthttp.Server
		ln  net.Listener
	}{{n.inner, inner}, {n.front, front}} {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := s.srv.Serve(s.ln); err != nil {
				n.log.Error("cluster listener stopped", "err", err)
			}
		}()
	}
	return nil
}

func (n *Node) serveRaft(ctx *fasthttp.RequestCtx) {
	if !n.authorized(ctx) || !n.sameShards(ctx) {
		return
	}
	path := string(ctx.Path())
	switch {
	case path == MembersPath || strings.HasPrefix(path, MembersPath+"/"):
		n.serveMembers(ctx)
		return
	case path == LeaderPath:
		n.serveTransfer(ctx)
		return
	case path == SnapshotPath:
		n.serveSnapshot(ctx)
		return
	case path == ForwardPath:
		n.fwd.serveForward(ctx, n.serveFront)
		return
	case path != RaftPath || !ctx.IsPost():
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	envs, err := decodeEnvelopes(ctx.PostBody())
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(err.Error())
		return
	}
	n.raft.Deliver(envs)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// forwardedHeader marks a forwarded request, so that two nodes that each
// think the other leads cannot bounce it between them.
const forwardedHeader = "X-Vigilo-Forwarded-By"

// maxHops is how many times a request may be forwarded: once to the
// leader, and once more for each handover it meets on the way (a node
// handing its shard over passes what it holds to the new leader, which
// may be handing it on already). Two nodes whose views are stale bounce
// a request at most this often before it waits for a leader.
const maxHops = 4

// forwardTimeout bounds one forwarded request.
const forwardTimeout = 10 * time.Second

func (n *Node) serveFront(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/healthz":
		n.serveHealth(ctx)
		return
	case engine.MetricsPath:
		n.serveMetrics(ctx)
		return
	}
	shard, ok := pinnedShard(ctx, len(n.hosts))
	if !ok {
		if n.gathersProjects(ctx) {
			n.serveProjectList(ctx)
			return
		}
		shard, _ = n.route(ctx)
	}
	n.serveShard(ctx, shard)
}

// serveShard has the request answered by the shard's engine: here if this
// node leads the shard, else at its leader. During a failover (an
// election, the new leader loading its engine) the request waits, up to
// Wait, instead of failing: a client sees a slow answer, not an error.
func (n *Node) serveShard(ctx *fasthttp.RequestCtx, shard uint32) {
	h := n.hosts[shard]
	// A request forwarded already may go on: it reached a node that was
	// handing the shard over and knows its new leader. Up to maxHops, so
	// that nodes with stale views cannot pass it around.
	by := string(ctx.Request.Header.Peek(forwardedHeader)) // kept: forward rewrites it
	forwarded := len(by) > 0 && strings.Count(by, ",") >= maxHops-1
	start := time.Now()
	deadline := start.Add(n.o.Wait)
	for {
		if h.serve(ctx) {
			return
		}
		lead := n.raft.Leader(shard)
		// Out of hops, it may still go on once this node has waited a
		// while: leaderships that moved several times in a row have
		// settled by then, and a loop between stale views is slowed to
		// one hop per node per Wait/4 instead of stranding the request.
		if lead != 0 && lead != n.o.ID && (!forwarded || time.Since(start) >= n.o.Wait/4) {
			if p, ok := n.peer(lead); ok && n.forward(ctx, p.Raft, shard, by) {
				return
			}
			// The leader did not see the request, or it may see it
			// twice (forward): send it again.
		}
		if time.Now().After(deadline) {
			unavailable(ctx, "no cluster leader can take this request now, retry")
			return
		}
		select {
		case <-n.stop:
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		case <-time.After(n.o.Tick / 4):
		}
	}
}

// Health is what /healthz says about the node.
type Health struct {
	Node   uint64 `json:"node"`
	Shards int    `json:"shards"`
	// Leaders is each shard's leader as this node knows it (0: none).
	Leaders []uint64 `json:"leaders"`
	// Led are the shards whose engine runs here: this node leads them and
	// has loaded their checks.
	Led []uint32 `json:"led"`
	// WithoutLeader counts the shards with no leader this node knows, or
	// led here with their engine not running yet.
	WithoutLeader int `json:"without_leader"`
	// Applied is, per shard, the index of the last log entry applied here:
	// a replica has caught up when it equals the leader's.
	Applied []uint64 `json:"applied"`
	// Error is why the node's raft loop stopped, if it did: it then holds
	// nothing and must be restarted.
	Error string `json:"error,omitempty"`
}

// Health says what /healthz says.
func (n *Node) Health() Health {
	h := Health{Node: n.o.ID, Shards: len(n.hosts), Led: []uint32{}}
	for _, s := range n.hosts {
		lead := n.raft.Leader(s.id)
		h.Leaders = append(h.Leaders, lead)
		h.Applied = append(h.Applied, n.raft.Applied(s.id))
		running := s.eng.Load() != nil
		if running {
			h.Led = append(h.Led, s.id)
		}
		if lead == 0 || lead == n.o.ID && !running {
			h.WithoutLeader++
		}
	}
	if err := n.raft.Err(); err != nil {
		h.Error = err.Error()
	}
	return h
}

// serveHealth is 200 while the node can serve every shard (it leads it
// and runs its engine, or knows a leader to forward to) and 503 while it
// cannot (no quorum, an election, a new leader loading).
func (n *Node) serveHealth(ctx *fasthttp.RequestCtx) {
	h := n.Health()
	if h.Error != "" || h.WithoutLeader > 0 {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	}
	b, _ := json.Marshal(h)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func (n *Node) serveMetrics(ctx *fasthttp.RequestCtx) {
	g := prometheus.Gatherers{n.reg}
	for _, s := range n.hosts {
		if e := s.eng.Load(); e != nil {
			g = append(g, shardGatherer{e.MetricsRegistry(), strconv.FormatUint(uint64(s.id), 10)})
		}
	}
	fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{}))(ctx)
}

// watch starts a shard's engine once this node holds the shard, and stops
// it once it does not. The engines of shards won together (a failover
// hands a dead node's shards out at once) load side by side: each one
// reads its own checks, and the last deadline to fire again waits for the
// slowest shard, not for the sum of them.
func (n *Node) watch() {
	defer n.wg.Done()
	t := time.NewTicker(n.o.Tick/2 + time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		var starts sync.WaitGroup
		for _, h := range n.hosts {
			term := n.raft.HoldingTerm(h.id)
			switch e := h.eng.Load(); {
			case term != 0 && e == nil:
				starts.Go(func() { n.startEngine(h, term) })
			case term != h.term && e != nil:
				// Lost, or lost and won back since the engine was opened:
				// its memory may predate writes another leader made
				// meanwhile.
				n.log.Warn("lost a shard's leadership: stopping its engine", "shard", h.id)
				n.stopEngine(h)
			}
		}
		starts.Wait()
		held := 0
		for _, h := range n.hosts {
			if h.eng.Load() != nil {
				held++
			}
		}
		n.m.holding.Set(float64(held))
	}
}

func (n *Node) startEngine(h *shardHost, term uint64) {
	t0 := time.Now()
	o := n.o.Engine
	o.Store, o.Listen = h.st, n.o.Peers[n.o.ID].API
	o.NotifyFence = (&fence{n: n, shard: h.id, term: term}).check
	o.Owns = func(b []byte) bool { return n.shardOf(b) == h.id }
	if o.Logger == nil {
		o.Logger = n.log
	}
	o.Logger = o.Logger.With("shard", h.id)
	e, err := engine.Open(o)
	if err == nil {
		err = e.Start()
	}
	if err == nil && n.raft.HoldingTerm(h.id) != term {
		err = errors.New("the leadership changed while the engine was loading")
	}
	if err != nil {
		if e != nil {
			e.Close()
		}
		n.log.Error("start a shard's engine", "shard", h.id, "err", err)
		return
	}
	if k := e.BootstrapKeys; k != nil {
		fmt.Printf("Created the default project. Its keys are shown only this once:\n"+
			"  api key:        %s\n  read-only key:  %s\n  ping key:       %s\n", k.APIKey, k.ReadOnlyKey, k.Project.PingKey)
	}
	h.term = term
	h.eng.Store(e)
	n.m.engines.Inc()
	n.log.Info("holding a shard: engine started", "shard", h.id, "checks", e.CheckCount(), "took", time.Since(t0).Round(time.Millisecond))
}

func (n *Node) stopEngine(h *shardHost) {
	e := h.eng.Swap(nil)
	if e == nil {
		return
	}
	if err := e.Close(); err != nil {
		n.log.Error("stop a shard's engine", "shard", h.id, "err", err)
	}
}

// Close stops the node: its engines, listeners, logs and store. Closing
// again returns what the first Close did.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	close(n.stop)
	if n.front != nil {
		_ = n.front.Shutdown()
		_ = n.inner.Shutdown()
	}
	for _, ln := range n.lns {
		_ = ln.Close()
	}
	n.fwd.close()
	n.wg.Wait()
	for _, h := range n.hosts {
		n.stopEngine(h)
	}
	n.raft.Close()
	n.tr.close()
	n.snapClient.CloseIdleConnections()
	return n.st.Close()
}

// unavailable answers 503 with Retry-After: the request may be sent again.
func unavailable(ctx *fasthttp.RequestCtx, msg string) {
	ctx.Response.Reset()
	ctx.Response.Header.Set("Retry-After", "1")
	writeError(ctx, fasthttp.StatusServiceUnavailable, msg)
}
