package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilo/vigilo/engine"
)

// TargetBytesPerCheck is the memory target: resident bytes per idle
// heartbeat at 1M checks.
const TargetBytesPerCheck = 1536

// MemoryResult is the memory scenario, measured in a fresh child process: resident
// memory (VmRSS) and Go heap in use before and after engine.Open loads the checks,
// each after runtime.GC and debug.FreeOSMemory. The checks are idle — up, with an
// armed deadline, and no running actor — as the design keeps them (actors/doc.go).
type MemoryResult struct {
	Name   string `json:"name"`
	Checks int    `json:"checks"`

	BytesPerCheck     float64 `json:"bytes_per_check"`      // (RSS after − before) / checks
	HeapBytesPerCheck float64 `json:"heap_bytes_per_check"` // (HeapInuse after − before) / checks
	RSSBeforeBytes    uint64  `json:"rss_before_bytes"`
	RSSAfterBytes     uint64  `json:"rss_after_bytes"`
	HeapBeforeBytes   uint64  `json:"heap_before_bytes"`
	HeapAfterBytes    uint64  `json:"heap_after_bytes"`
	// Pebble's share of the RSS delta, allocated outside the Go heap: the block
	// cache (filled by the load scan, bounded at 64 MiB) and the memtables.
	PebbleBlockCacheBytes int64   `json:"pebble_block_cache_bytes"`
	PebbleMemtableBytes   uint64  `json:"pebble_memtable_bytes"`
	ResidentActors        int     `json:"resident_actors"` // running actors at the idle measurement: 0 by design
	OpenSeconds           float64 `json:"open_seconds"`

	// Then LiveActors of the checks get a running actor (one message each, no write)
	// and the cost of a live actor is the delta over the idle state.
	LiveActors            int     `json:"live_actors"`
	BytesPerLiveActor     float64 `json:"bytes_per_live_actor"`
	HeapBytesPerLiveActor float64 `json:"heap_bytes_per_live_actor"`
	RSSLiveBytes          uint64  `json:"rss_live_bytes"`
	HeapLiveBytes         uint64  `json:"heap_live_bytes"`

	full bool
}

func (x *MemoryResult) ScenarioName() string { return x.Name }
func (x *MemoryResult) Errors() int64        { return 0 }

func (x *MemoryResult) rows() [][3]string {
	target := "≤ 1,536 (1.5 KB) (at 1M checks)"
	if x.full {
		target = verdict(x.BytesPerCheck <= TargetBytesPerCheck, "≤ 1,536 (1.5 KB)")
	}
	rows := [][3]string{
		{"resident bytes per idle check", fmtCount(x.BytesPerCheck), target},
		{"Go heap bytes per idle check", fmtCount(x.HeapBytesPerCheck), ""},
		{"RSS before / after load", fmt.Sprintf("%s / %s MiB", mib(x.RSSBeforeBytes), mib(x.RSSAfterBytes)), ""},
		{"of which Pebble cache / memtables", fmt.Sprintf("%s / %s MiB", mib(uint64(x.PebbleBlockCacheBytes)), mib(x.PebbleMemtableBytes)), ""},
		{"running actors when idle", strconv.Itoa(x.ResidentActors), "0"},
	}
	if x.LiveActors > 0 {
		rows = append(rows,
			[3]string{"resident bytes per live actor", fmtCount(x.BytesPerLiveActor) + fmt.Sprintf(" (%d actors)", x.LiveActors), ""},
			[3]string{"Go heap bytes per live actor", fmtCount(x.HeapBytesPerLiveActor), ""})
	}
	return rows
}

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

type memoryJob struct {
	Dir    string `json:"dir"`
	Checks int    `json:"checks"`
	Live   int    `json:"live"`
	Seed   uint64 `json:"seed"`
}

func (r *runner) memory(dir string) (Result, error) {
	job := memoryJob{Dir: dir, Checks: r.o.Checks, Live: max(r.o.LiveActors, 0), Seed: r.seedID}
	x := &MemoryResult{Name: ScenarioMemory, Checks: r.o.Checks, full: r.o.Checks >= DefaultChecks}
	if _, err := r.runChildProcess(childJob{Role: roleMemory, Memory: &job}, x, nil); err != nil {
		return nil, err
	}
	x.Name, x.Checks = ScenarioMemory, r.o.Checks
	r.progress("memory: %s resident bytes per idle check, %s per live actor", fmtCount(x.BytesPerCheck), fmtCount(x.BytesPerLiveActor))
	return x, nil
}

// memSample is the process's resident set and Go heap in use, after a full GC that
// returns what it freed to the OS.
func memSample() (rss, heap uint64, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err = vmRSS()
	return rss, ms.HeapInuse, err
}

func vmRSS() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errNoProc
}

func runMemoryChild(job memoryJob) (*MemoryResult, error) {
	x := &MemoryResult{}
	var err error
	if x.RSSBeforeBytes, x.HeapBeforeBytes, err = memSample(); err != nil {
		return nil, err
	}
	// A long idle time, so the live actors of the second measurement stay up.
	t0 := time.Now()
	e, err := engine.Open(engineOptions(job.Dir, time.Hour, childLogger()))
	if err != nil {
		return nil, err
	}
	x.OpenSeconds = time.Since(t0).Seconds()
	defer e.Close()
	if _, err := serveLoopback(e); err != nil {
		return nil, err
	}
	if e.Registry().Len() != job.Checks {
		return nil, fmt.Errorf("engine loaded %d checks, want %d", e.Registry().Len(), job.Checks)
	}
	if x.RSSAfterBytes, x.HeapAfterBytes, err = memSample(); err != nil {
		return nil, err
	}
	x.ResidentActors = e.Registry().Resident()
	if m := e.Store().Metrics(); m != nil {
		x.PebbleBlockCacheBytes = m.BlockCache.Size
		x.PebbleMemtableBytes = m.MemTable.Size
	}
	n := float64(job.Checks)
	x.BytesPerCheck = (float64(x.RSSAfterBytes) - float64(x.RSSBeforeBytes)) / n
	x.HeapBytesPerCheck = (float64(x.HeapAfterBytes) - float64(x.HeapBeforeBytes)) / n

	if job.Live > 0 {
		if err := spawnActors(e, job); err != nil {
			return nil, err
		}
		if x.RSSLiveBytes, x.HeapLiveBytes, err = memSample(); err != nil {
			return nil, err
		}
		x.LiveActors = e.Registry().Resident()
		if x.LiveActors < job.Live {
			return nil, fmt.Errorf("%d actors running after spawning %d (did they passivate?)", x.LiveActors, job.Live)
		}
		x.BytesPerLiveActor = (float64(x.RSSLiveBytes) - float64(x.RSSAfterBytes)) / float64(x.LiveActors)
		x.HeapBytesPerLiveActor = (float64(x.HeapLiveBytes) - float64(x.HeapAfterBytes)) / float64(x.LiveActors)
	}
	return x, e.Close()
}

// spawnActors gives the first job.Live seeded checks a running actor by sending each
// a snapshot request: a message that spawns the actor and writes nothing, so the
// store's memtable does not grow into the figure.
func spawnActors(e *engine.Engine, job memoryJob) error {
	reg := e.Registry()
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= job.Live {
					return
				}
				c := reg.Get(checkID(job.Seed, i))
				if c == nil {
					failed.CompareAndSwap(nil, fmt.Errorf("seeded check %d is not resident", i))
					return
				}
				if res := reg.Snapshot(c); res.Err != nil {
					failed.CompareAndSwap(nil, res.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	return nil
}
