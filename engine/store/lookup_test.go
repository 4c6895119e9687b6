package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

func ptr[T any](v T) *T { return &v }

// lookupFixture is a project of checks whose fields overlap in known ways,
// created a second apart so that "oldest" is well defined.
func lookupFixture(t *testing.T, s *Store) (uuid.UUID, []*Check) {
	t.Helper()
	pid := uuid.New()
	other := uuid.New()
	mk := func(i int, name, slug, tags, kind string, timeout, grace time.Duration) *Check {
		c := testCheck(pid, i)
		c.Name, c.Slug, c.Tags, c.Kind, c.Timeout, c.Grace = name, slug, tags, kind, timeout, grace
		c.Created = t0.Add(time.Duration(i) * time.Second)
		return c
	}
	checks := []*Check{
		mk(0, "a", "a", "prod db", "simple", time.Hour, time.Minute),
		mk(1, "a", "a2", "prod", "simple", 2*time.Hour, time.Minute),
		mk(2, "b", "b", "prod db", "cron", time.Hour, 2*time.Minute),
		mk(3, "c", "c", "", "simple", time.Hour, 2*time.Minute),
		mk(4, "a", "a", "prod db", "simple", time.Hour, time.Minute),
	}
	// A namesake in another project is never a match.
	foreign := testCheck(other, 9)
	foreign.Name, foreign.Tags, foreign.Created = "a", "prod db", t0.Add(-time.Hour)
	commitT(t, s, func(b *Batch) {
		for _, c := range append(checks, foreign) {
			b.PutCheck(nil, c)
		}
	})
	return pid, checks
}

func TestFindMatch(t *testing.T) {
	s := openT(t, Options{})
	pid, cs := lookupFixture(t, s)
	all := func(uuid.UUID) bool { return true }
	for _, tc := range []struct {
		name string
		m    Match
		want int // index into cs, -1 none
	}{
		{"name", Match{Name: ptr("a")}, 0},
		{"name none", Match{Name: ptr("zzz")}, -1},
		{"slug", Match{Slug: ptr("a2")}, 1},
		{"tags", Match{Tags: ptr("prod db")}, 0},
		{"tags empty", Match{Tags: ptr("")}, 3},
		{"tags order matters", Match{Tags: ptr("db prod")}, -1},
		{"timeout skips cron", Match{Timeout: ptr(time.Hour)}, 0},
		{"timeout 2h", Match{Timeout: ptr(2 * time.Hour)}, 1},
		{"grace includes cron", Match{Grace: ptr(2 * time.Minute)}, 2},
		{"timeout and grace", Match{Timeout: ptr(time.Hour), Grace: ptr(2 * time.Minute)}, 3},
		{"name and tags", Match{Name: ptr("a"), Tags: ptr("prod")}, 1},
		{"tags and grace", Match{Tags: ptr("prod db"), Grace: ptr(2 * time.Minute)}, 2},
		{"name and slug, newest only differs by age", Match{Name: ptr("a"), Slug: ptr("a")}, 0},
		{"empty", Match{}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FindMatch(pid, tc.m, all)
			if tc.want < 0 {
				if err != ErrNotFound {
					t.Fatalf("got %v, %v; want not found", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != cs[tc.want].ID {
				t.Fatalf("got %s (%s), want check %d", got.Name, got.ID, tc.want)
			}
		})
	}
	// live rules out a check the registry does not have: the next oldest wins.
	got, err := s.FindMatch(pid, Match{Name: ptr("a"), Tags: ptr("prod db")}, func(id uuid.UUID) bool { return id != cs[0].ID })
	if err != nil || got.ID != cs[4].ID {
		t.Fatalf("without check 0: got %v, %v; want check 4", got, err)
	}
}

func TestLookupIndexFollowsChanges(t *testing.T) {
	s := openT(t, Options{})
	pid, cs := lookupFixture(t, s)
	all := func(uuid.UUID) bool { return true }
	// Retag and change durations of check 0: the old entries must go.
	old := *cs[0]
	cs[0].Tags, cs[0].Grace = "staging", 5*time.Minute
	commitT(t, s, func(b *Batch) { b.PutCheck(&old, cs[0]) })
	if got, err := s.FindMatch(pid, Match{Tags: ptr("prod db")}, all); err != nil || got.ID != cs[2].ID {
		t.Fatalf("old tags: got %v, %v; want check 2", got, err)
	}
	if got, err := s.FindMatch(pid, Match{Timeout: ptr(time.Hour), Grace: ptr(5 * time.Minute)}, all); err != nil || got.ID != cs[0].ID {
		t.Fatalf("new durations: got %v, %v", got, err)
	}
	var tagged []uuid.UUID
	collect := func(c *Check) (bool, error) { tagged = append(tagged, c.ID); return true, nil }
	if err := s.TaggedChecks(pid, "staging", collect); err != nil || len(tagged) != 1 || tagged[0] != cs[0].ID {
		t.Fatalf("tag staging: %v, %v", tagged, err)
	}
	tagged = nil
	if err := s.TaggedChecks(pid, "db", collect); err != nil || len(tagged) != 2 {
		t.Fatalf("tag db: %v, %v (want checks 2 and 4)", tagged, err)
	}
	// A ping's write (old == c) leaves the indexes alone and they stay right.
	cs[1].NPings++
	commitT(t, s, func(b *Batch) { b.PutCheck(cs[1], cs[1]) })
	if got, err := s.FindMatch(pid, Match{Timeout: ptr(2 * time.Hour)}, all); err != nil || got.ID != cs[1].ID {
		t.Fatalf("after a ping: %v, %v", got, err)
	}
	// Deleting drops every lookup entry.
	if err := s.DeleteCheck(cs[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindMatch(pid, Match{Timeout: ptr(2 * time.Hour)}, all); err != ErrNotFound {
		t.Fatalf("deleted check still matched: %v", err)
	}
	if ids, err := s.ChecksByUniqueKey(pid, UniqueKey(cs[1].ID)); err != nil || len(ids) != 0 {
		t.Fatalf("deleted check's unique key: %v, %v", ids, err)
	}
	if ids, err := s.ChecksByUniqueKey(pid, UniqueKey(cs[2].ID)); err != nil || len(ids) != 1 || ids[0] != cs[2].ID {
		t.Fatalf("unique key: %v, %v", ids, err)
	}
	// Creation order, with a skip.
	var order []uuid.UUID
	if err := s.CreatedChecks(pid, 1, func(c *Check) (bool, error) {
		order = append(order, c.ID)
		return len(order) < 2, nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(order) != 2 || order[0] != cs[2].ID || order[1] != cs[3].ID {
		t.Fatalf("created order after skipping 1: %v", order)
	}
	if err := s.DeleteProject(pid); err != nil {
		t.Fatal(err)
	}
	for _, p := range []byte{pfxCreated, pfxTag, pfxTagsText, pfxDuration, pfxReadKey} {
		lo, hi := idRange(p, pid)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
		if err != nil {
			t.Fatal(err)
		}
		if it.First() {
			t.Errorf("prefix %q: entries left after the project's deletion", p)
		}
		it.Close()
	}
}

// A store written before the lookup indexes existed gets them at its next Open.
func TestLookupIndexBackfill(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pid, cs := lookupFixture(t, s)
	b := s.db.NewBatch()
	for _, p := range []byte{pfxCreated, pfxTag, pfxTagsText, pfxDuration, pfxReadKey} {
		b.DeleteRange([]byte{p}, []byte{p + 1}, nil)
	}
	b.Delete(metaKey(nil, lookupKeyName), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindMatch(pid, Match{Tags: ptr("prod")}, func(uuid.UUID) bool { return true }); err != ErrNotFound {
		t.Fatalf("entries survived the wipe: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, Options{Dir: dir})
	if got, err := s.FindMatch(pid, Match{Tags: ptr("prod")}, func(uuid.UUID) bool { return true }); err != nil || got.ID != cs[1].ID {
		t.Fatalf("after backfill: %v, %v", got, err)
	}
}

func BenchmarkFindMatchName(b *testing.B) {
	s := openT(b, Options{})
	pid := uuid.New()
	const n = 100_000
	for i := 0; i < n; i += 1000 {
		commitT(b, s, func(bt *Batch) {
			for j := i; j < i+1000; j++ {
				c := testCheck(pid, j)
				c.Created = t0.Add(time.Duration(j))
				bt.PutCheck(nil, c)
			}
		})
	}
	all := func(uuid.UUID) bool { return true }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("backup job %d", i%n)
		if _, err := s.FindMatch(pid, Match{Name: &name}, all); err != nil {
			b.Fatal(err)
		}
	}
}
