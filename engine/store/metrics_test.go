package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCollector(t *testing.T) {
	s := openT(t, Options{})
	reg := prometheus.NewRegistry()
	if err := RegisterMetrics(reg, s); err != nil {
		t.Fatal(err)
	}
	c := testCheck(uuid.New(), 1)
	sample := s.NewBatch()
	sample.AddResponseTime(c.ID, &ResponseTime{N: 1, At: t0})
	if err := s.ApplySample(sample); err != nil {
		t.Fatal(err)
	}
	commitT(t, s, func(b *Batch) { b.PutCheck(nil, c) }) // applies the sample's group first
	n, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	if n != 26 {
		t.Errorf("%d series, want 26", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	// One commit, one group of one, one sync.
	if got["vigilo_store_group_commits"] != 1 || got["vigilo_store_commit_seconds"] != 1 {
		t.Errorf("group size observed %v times, sync time %v times; want 1 and 1",
			got["vigilo_store_group_commits"], got["vigilo_store_commit_seconds"])
	}
	if got["vigilo_store_samples_lost_total"] != 0 {
		t.Errorf("samples lost: %v", got["vigilo_store_samples_lost_total"])
	}
	for _, name := range []string{"vigilo_store_commits_total", "vigilo_store_syncs_total",
		"vigilo_store_samples_total", "vigilo_store_sample_groups_total", "vigilo_store_batched_ops_total", "vigilo_pebble_wal_written_bytes_total", "vigilo_pebble_memtable_bytes"} {
		if got[name] < 1 {
			t.Errorf("%s = %v, want ≥ 1", name, got[name])
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// A cluster node registers its database's figures alone: its committers
// and samples are its key spaces', reported by their engines.
func TestDatabaseMetrics(t *testing.T) {
	s := openT(t, Options{})
	reg := prometheus.NewRegistry()
	if err := RegisterDatabaseMetrics(reg, s); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "vigilo_pebble_") {
			t.Errorf("%s among the database's figures", mf.GetName())
		}
	}
	if len(mfs) != 16 {
		t.Errorf("%d series, want the 16 Pebble ones", len(mfs))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	if err := RegisterDatabaseMetrics(prometheus.NewRegistry(), spaceT(t, s, 1, SpaceOptions{})); !errors.Is(err, ErrRootOnly) {
		t.Errorf("a key space's database figures: %v, want ErrRootOnly", err)
	}
}
