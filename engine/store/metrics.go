package store

import (
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics registers on r a collector that reads s's committer counters
// (Stats) and a selection of Pebble's own metrics (Metrics) at scrape time, as
// vigilo_store_* and vigilo_pebble_*. Nothing is added to the write path. After
// Close the Pebble figures are left out of a scrape.
//
// A key space's collector has the space's own figures (its committer, its
// samples, its two histograms) and leaves Pebble's out: they are the
// database's, which the root's collector reports once. Its metrics have the
// root's names, so each space goes on a registry (or a wrapping registerer
// with a label) of its own.
//
// Two histograms are observed by the committer, once per group: the group's
// size (commits per sync) and the time its apply and fsync took.
func RegisterMetrics(r prometheus.Registerer, s *Store) error {
	return r.Register(newCollector(s))
}

// RegisterDatabaseMetrics registers on r the root s's Pebble figures
// (vigilo_pebble_*) alone: a cluster node's, whose committers and samples
// are its shards' key spaces', each reported with its engine.
func RegisterDatabaseMetrics(r prometheus.Registerer, s *Store) error {
	if err := s.rootOnly("RegisterDatabaseMetrics"); err != nil {
		return err
	}
	c := newCollector(s)
	c.databaseOnly = true
	return r.Register(c)
}

type collector struct {
	s            *Store
	databaseOnly bool

	commits, syncs, ops, maxGroup, queued *prometheus.Desc
	samples, sampleGroups, samplesLost    *prometheus.Desc

	walBytes, walWritten, compactions, compacting, compactDebt, flushes, readAmp,
	cacheHits, cacheMisses, cacheBytes, memBytes, memCount, diskBytes, tables, compacted, ingested *prometheus.Desc
}

func newCollector(s *Store) *collector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &collector{
		s:        s,
		commits:  d("vigilo_store_commits_total", "Batches committed to the store."),
		syncs:    d("vigilo_store_syncs_total", "WAL syncs done by the group committer (one per group of commits)."),
		ops:      d("vigilo_store_batched_ops_total", "Pebble operations (sets, deletes, range deletes) committed."),
		maxGroup: d("vigilo_store_max_group_commits", "Most commits ever merged into one WAL sync."),
		queued:   d("vigilo_store_queued_commits", "Commits waiting for the group committer."),

		samples:      d("vigilo_store_samples_total", "Samples (routine probes' response times) accepted by ApplySample."),
		sampleGroups: d("vigilo_store_sample_groups_total", "Groups of buffered samples applied to Pebble."),
		samplesLost:  d("vigilo_store_samples_lost_total", "Samples dropped because their group failed to apply."),

		walBytes:    d("vigilo_pebble_wal_bytes", "Size of the live WAL files (logical bytes)."),
		walWritten:  d("vigilo_pebble_wal_written_bytes_total", "Bytes written to the WAL, including overhead."),
		compactions: d("vigilo_pebble_compactions_total", "Compactions completed."),
		compacting:  d("vigilo_pebble_compactions_running", "Compactions in progress."),
		compactDebt: d("vigilo_pebble_compaction_debt_bytes", "Estimated bytes to compact for the LSM to reach a stable state."),
		flushes:     d("vigilo_pebble_flushes_total", "Memtable flushes completed."),
		readAmp:     d("vigilo_pebble_read_amplification", "Read amplification: sublevels in L0 plus non-empty lower levels."),
		cacheHits:   d("vigilo_pebble_block_cache_hits_total", "Block cache hits."),
		cacheMisses: d("vigilo_pebble_block_cache_misses_total", "Block cache misses."),
		cacheBytes:  d("vigilo_pebble_block_cache_bytes", "Bytes in use by the block cache."),
		memBytes:    d("vigilo_pebble_memtable_bytes", "Bytes allocated by memtables."),
		memCount:    d("vigilo_pebble_memtables", "Memtables (the mutable one and those queued for flush)."),
		diskBytes:   d("vigilo_pebble_disk_usage_bytes", "Disk space used by the store (tables, WAL, manifests)."),
		tables:      d("vigilo_pebble_sstables", "Live sstables across all levels."),
		compacted:   d("vigilo_pebble_compacted_bytes_total", "Bytes of sstables written by compactions."),
		ingested:    d("vigilo_pebble_ingested_bytes_total", "Bytes of sstables ingested (a cluster node's installed snapshots)."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	if !c.s.spaced {
		for _, d := range []*prometheus.Desc{c.walBytes, c.walWritten, c.compactions, c.compacting,
			c.compactDebt, c.flushes, c.readAmp, c.cacheHits, c.cacheMisses, c.cacheBytes,
			c.memBytes, c.memCount, c.diskBytes, c.tables, c.compacted, c.ingested} {
			ch <- d
		}
	}
	if c.databaseOnly {
		return
	}
	for _, d := range []*prometheus.Desc{c.commits, c.syncs, c.ops, c.maxGroup, c.queued,
		c.samples, c.sampleGroups, c.samplesLost} {
		ch <- d
	}
	c.s.c.groupSize.Describe(ch)
	c.s.c.syncTime.Describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	c.collectDatabase(counter, gauge)
	if c.databaseOnly {
		return
	}
	c.s.c.groupSize.Collect(ch)
	c.s.c.syncTime.Collect(ch)
	st := c.s.Stats()
	counter(c.commits, float64(st.Commits))
	counter(c.syncs, float64(st.Syncs))
	counter(c.ops, float64(st.BatchedOps))
	gauge(c.maxGroup, float64(st.MaxGroup))
	gauge(c.queued, float64(st.Queued))
	counter(c.samples, float64(st.Samples))
	counter(c.sampleGroups, float64(st.SampleGroups))
	counter(c.samplesLost, float64(st.SamplesLost))
}

func (c *collector) collectDatabase(counter, gauge func(*prometheus.Desc, float64)) {
	if c.s.spaced {
		return // the database's figures are the root's to report
	}
	m := c.s.Metrics()
	if m == nil { // closed
		return
	}
	gauge(c.walBytes, float64(m.WAL.Size))
	counter(c.walWritten, float64(m.WAL.BytesWritten))
	counter(c.compactions, float64(m.Compact.Count))
	gauge(c.compacting, float64(m.Compact.NumInProgress))
	gauge(c.compactDebt, float64(m.Compact.EstimatedDebt))
	counter(c.flushes, float64(m.Flush.Count))
	gauge(c.readAmp, float64(m.ReadAmp()))
	counter(c.cacheHits, float64(m.BlockCache.Hits))
	counter(c.cacheMisses, float64(m.BlockCache.Misses))
	gauge(c.cacheBytes, float64(m.BlockCache.Size))
	gauge(c.memBytes, float64(m.MemTable.Size))
	gauge(c.memCount, float64(m.MemTable.Count))
	gauge(c.diskBytes, float64(m.DiskSpaceUsage()))
	total := m.Total()
	gauge(c.tables, float64(total.TablesCount))
	counter(c.compacted, float64(total.TableBytesCompacted))
	counter(c.ingested, float64(total.TableBytesIngested))
}
