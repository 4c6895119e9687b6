package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/api/opsgenie"
	"github.com/vigilo/vigilo/engine/store"
)

// Concurrent creates that must not duplicate each other make one check; the
// rest find it, even though none of them holds a lock across its commit.
func TestConcurrentUniqueCreates(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	e := openTest(t, dir, clock, time.Minute)
	const racers = 64
	names := []string{"alpha", "beta", "gamma"}
	type result struct {
		id      uuid.UUID
		created bool
		err     error
	}
	run := func(create func(i int) (uuid.UUID, bool, error)) []result {
		out := make([]result, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, created, err := create(i)
				out[i] = result{id, created, err}
			}()
		}
		wg.Wait()
		return out
	}

	// Healthchecks.io unique on name: per name one 201, every other answer the same check.
	hc := run(func(i int) (uuid.UUID, bool, error) {
		name := names[i%len(names)]
		c, created, err := e.CreateCheck(DefaultProjectID, store.Match{Name: &name}, func(c *store.Check) error {
			c.Name, c.Desc = name, fmt.Sprint("racer ", i)
			return nil
		})
		return c.ID, created, err
	})
	ids := map[string]uuid.UUID{}
	createdBy := map[string]int{}
	for i, r := range hc {
		name := names[i%len(names)]
		if r.err != nil {
			t.Fatal(r.err)
		}
		if id, ok := ids[name]; ok && id != r.id {
			t.Fatalf("%s: two checks, %s and %s", name, id, r.id)
		}
		ids[name] = r.id
		if r.created {
			createdBy[name]++
		}
	}
	for _, name := range names {
		if createdBy[name] != 1 {
			t.Errorf("%s: %d creates answered created, want 1", name, createdBy[name])
		}
	}

	// Opsgenie names: one success per name, the rest ErrNameTaken.
	og := run(func(i int) (uuid.UUID, bool, error) {
		name := "og-" + names[i%len(names)]
		c, err := e.CreateNamed(DefaultProjectID, name, false, func(c *store.Check) error {
			c.Name = name
			return nil
		})
		return c.ID, err == nil, err
	})
	wins := map[string]int{}
	for i, r := range og {
		switch {
		case r.err == nil:
			wins[names[i%len(names)]]++
		case !errors.Is(r.err, opsgenie.ErrNameTaken):
			t.Fatal(r.err)
		}
	}
	for _, name := range names {
		if wins[name] != 1 {
			t.Errorf("og-%s: %d creations succeeded, want 1", name, wins[name])
		}
	}
	if got, want := e.reg.ProjectLen(DefaultProjectID), 2*len(names); got != want {
		t.Fatalf("%d checks in the project, want %d", got, want)
	}

	// After a restart the indexes still answer: unique finds, names conflict.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTest(t, dir, clock, time.Minute)
	defer e.Close()
	name := names[0]
	c, created, err := e.CreateCheck(DefaultProjectID, store.Match{Name: &name}, func(c *store.Check) error { return nil })
	if err != nil || created || c.ID != ids[name] {
		t.Fatalf("after restart: %s created=%v %v, want %s", c.ID, created, err, ids[name])
	}
	if _, err := e.CreateNamed(DefaultProjectID, "og-"+name, false, func(c *store.Check) error {
		c.Name = "og-" + name
		return nil
	}); !errors.Is(err, opsgenie.ErrNameTaken) {
		t.Fatalf("after restart: Opsgenie name not taken: %v", err)
	}
	// A deleted check is matched no more; its name is free again.
	if _, err := e.DeleteCheck(DefaultProjectID, ids[name]); err != nil {
		t.Fatal(err)
	}
	c, created, err = e.CreateCheck(DefaultProjectID, store.Match{Name: &name}, func(c *store.Check) error {
		c.Name = name
		return nil
	})
	if err != nil || !created || c.ID == ids[name] {
		t.Fatalf("after delete: %s created=%v %v", c.ID, created, err)
	}
	if got, want := e.reg.ProjectLen(DefaultProjectID), 2*len(names); got != want {
		t.Fatalf("after delete and create: %d checks, want %d", got, want)
	}
}

// Creates without anything unique take no lock: many at once share group
// commits (fewer syncs than creates).
func TestPlainCreatesShareCommits(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	e := openTest(t, t.TempDir(), clock, time.Minute)
	defer e.Close()
	before := e.store.Stats()
	const racers, each = 32, 20
	var wg sync.WaitGroup
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(c *store.Check) error { return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	after := e.store.Stats()
	commits, syncs := after.Commits-before.Commits, after.Syncs-before.Syncs
	if commits < racers*each || syncs >= commits {
		t.Fatalf("%d creates: %d commits in %d syncs; want groups", racers*each, commits, syncs)
	}
	if n := e.reg.ProjectLen(DefaultProjectID); n != racers*each {
		t.Fatalf("%d checks, want %d", n, racers*each)
	}
}

// A creation that lands while another's lookup runs outside the lock is not
// missed: when it clashes, or more landed than the stripe remembers, the lookup
// is repeated under the lock; otherwise it is not.
func TestClaimSeesLandingsDuringLookup(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	e := openTest(t, t.TempDir(), clock, time.Minute)
	defer e.Close()
	// A project in the same stripe as the default one (the stripe is the
	// last byte): its landings never clash with the default project's.
	other := DefaultProjectID
	other[0] ^= 0xff
	named := func(name string) *store.Check {
		project := DefaultProjectID
		if n, ok := strings.CutPrefix(name, "other:"); ok {
			project, name = other, n
		}
		c := e.newCheck(project)
		c.Name = name
		return &c
	}
	isX := func(c *store.Check) bool { return c.Name == "x" }
	none := func() (store.Check, bool, error) { return store.Check{}, false, nil }
	for _, tc := range []struct {
		name    string
		landing []string // names that land during the first lookup
		lookups int      // lookups the claim makes
	}{
		{"nothing lands", nil, 1},
		{"others land", []string{"y", "z"}, 1},
		{"a clashing one lands", []string{"y", "x"}, 2},
		{"a clashing one lands before others", []string{"x", "y"}, 2},
		{"as many land as remembered", slices.Repeat([]string{"y"}, landedKept), 1},
		{"another project's namesake lands", []string{"other:x"}, 1},
		{"more land than remembered", slices.Repeat([]string{"y"}, landedKept+1), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			_, found, land, err := e.claim(named("x"), isX, func() (store.Check, bool, error) {
				calls++
				if calls > 1 {
					return store.Check{ID: uuid.New()}, true, nil
				}
				for _, n := range tc.landing {
					rec := named(n)
					_, ok, land, err := e.claim(rec, func(c *store.Check) bool { return c.Name == rec.Name }, none)
					if err != nil || ok {
						t.Fatalf("landing %q: found %v, %v", n, ok, err)
					}
					land()
				}
				return store.Check{}, false, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if calls != tc.lookups {
				t.Fatalf("%d lookups, want %d", calls, tc.lookups)
			}
			if found != (tc.lookups == 2) {
				t.Fatalf("found %v after %d lookups", found, calls)
			}
			if land != nil {
				land()
			}
		})
	}
}
