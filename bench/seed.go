package bench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilo/vigilo/engine"
	"github.com/vigilo/vigilo/engine/store"
)

// seedBatch is how many checks go into one store commit while seeding.
const seedBatch = 5000

// seed makes the default project (by opening the engine once with the bench's API
// key) and writes o.Checks checks straight into the store in dir, each "up" with a
// deadline armed 30 to 60 minutes ahead and o.PingsPerCheck ping log entries.
func (r *runner) seed(dir string) error {
	now := time.Now().UTC()
	return r.seedWith(dir, r.o.Checks, r.o.PingsPerCheck, func(i int) store.Check {
		return seedCheck(r.seedID, i, now, r.o.PingsPerCheck)
	})
}

// seedWith makes the default project in dir and writes n checks, mk(0) to mk(n-1),
// each with pings ping log entries, in parallel batches.
func (r *runner) seedWith(dir string, n, pings int, mk func(i int) store.Check) error {
	e, err := engine.Open(r.engineOptions(dir, 0))
	if err != nil {
		return fmt.Errorf("seed: make the default project: %w", err)
	}
	if err := e.Close(); err != nil {
		return err
	}
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var next, done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	stop := make(chan struct{})
	go func() { // progress
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.progress("seeding: %d/%d checks", done.Load(), n)
			}
		}
	}()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(seedBatch)) - seedBatch
				if lo >= n {
					return
				}
				hi := min(lo+seedBatch, n)
				b := st.NewBatch()
				for i := lo; i < hi; i++ {
					c := mk(i)
					for k := 1; k <= pings; k++ {
						p := store.Ping{
							N: uint64(k), Kind: "success",
							Time:   c.LastPing.Add(time.Duration(k-pings) * time.Minute),
							Scheme: "http", RemoteAddr: "127.0.0.1", Method: "GET", UA: "vigilo-bench",
							ExitStatus: -1,
						}
						b.AppendPing(&c, &p)
					}
					b.PutCheck(nil, &c) // after the pings: AppendPing keeps a field of it
				}
				if err := st.Commit(b); err != nil {
					errs <- err
					return
				}
				done.Add(int64(hi - lo))
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	if err := <-errs; err != nil {
		st.Close()
		return fmt.Errorf("seed: %w", err)
	}
	// Settled, so that what is measured next is the engine's work and the
	// compactions it causes, not the compaction of the seed.
	t0 := time.Now()
	if err := st.Compact(); err != nil {
		st.Close()
		return fmt.Errorf("seed: %w", err)
	}
	r.progress("seeding: %d checks compacted in %v", n, time.Since(t0).Round(time.Millisecond))
	return st.Close()
}

// seedCheck is the i-th seeded check: simple, one hour's timeout and grace, up,
// last pinged between 0 and 30 minutes before now, so deadlines spread over half
// an hour of the wheel instead of one slot.
func seedCheck(seed uint64, i int, now time.Time, pings int) store.Check {
	last := now.Add(-time.Duration(i%1800) * time.Second)
	return store.Check{
		ID:        checkID(seed, i),
		ProjectID: engine.DefaultProjectID,
		Kind:      "simple",
		Timeout:   time.Hour,
		Grace:     time.Hour,
		TZ:        "UTC",
		Schedule:  "* * * * *",
		Status:    "up",
		LastPing:  last,
		NPings:    uint64(max(pings, 1)),
		Deadline:  last.Add(time.Hour),
		Created:   now.Add(-24 * time.Hour),
	}
}
