package raftlog

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the node's replication figures.
type Metrics struct {
	ShardsLed     prometheus.Gauge
	LeaderChanges prometheus.Counter
	Proposals     *prometheus.CounterVec // by result: applied, not_leader, skipped, rejected, closed
	Skipped       prometheus.Counter
	InboxDropped  prometheus.Counter
	Commits       prometheus.Counter
	// ReplicationLag is, over the shards this node leads, the most entries
	// a follower's log is behind the leader's, as of the last tick.
	ReplicationLag prometheus.Gauge
	// Snapshots counts state snapshots by step: made (a leader's view for
	// a follower), fetched and installed (on the follower), fetch_failed,
	// and excised (installed by an excise, store.IngestState).
	Snapshots   *prometheus.CounterVec
	Compactions prometheus.Counter
	// LogEntries and LogBytes are what the shards' logs hold, as of the
	// last tick: bounded by compaction.
	LogEntries prometheus.Gauge
	LogBytes   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		ShardsLed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigilo_raft_shards_led", Help: "Shards whose raft leader is this node.",
		}),
		LeaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigilo_raft_leader_changes_total", Help: "Changes of a shard's leader seen by this node.",
		}),
		Proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigilo_raft_proposals_total", Help: "Commands proposed through this node, by result.",
		}, []string{"result"}),
		Skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigilo_raft_entries_skipped_total",
			Help: "Committed entries applied as no-ops because their sequence number was not the next one.",
		}),
		InboxDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigilo_raft_inbox_dropped_total", Help: "Inbound raft messages dropped because the loop was behind.",
		}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigilo_raft_loop_commits_total", Help: "Synced batches written by the raft loop (log appends, hard states and applies of every shard).",
		}),
	}
	m.ReplicationLag = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigilo_raft_replication_lag_entries",
		Help: "Most entries a follower is behind, over the shards this node leads (0 on a follower).",
	})
	m.Snapshots = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigilo_raft_snapshots_total",
		Help: "State snapshots by step: made (held for a follower by a leader), fetched and installed (by a follower), fetch_failed, excised (installed with the shard's old files excised, nothing left to compact).",
	}, []string{"step"})
	m.Compactions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigilo_raft_log_compactions_total", Help: "Cuts of a shard's raft log behind its applied index.",
	})
	m.LogEntries = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigilo_raft_log_entries", Help: "Entries stored in this node's raft logs, over its shards.",
	})
	m.LogBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vigilo_raft_log_bytes", Help: "Encoded bytes of the entries stored in this node's raft logs, over its shards.",
	})
	for _, c := range []prometheus.Collector{m.ShardsLed, m.LeaderChanges, m.Proposals, m.Skipped, m.InboxDropped, m.Commits, m.ReplicationLag, m.Snapshots, m.Compactions, m.LogEntries, m.LogBytes} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
