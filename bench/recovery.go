package bench

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine"
)

// TargetRecoverySeconds is the restart target with 1M checks.
const TargetRecoverySeconds = 10

// RecoveryResult is the recovery scenario: a restart, in a fresh child process, on
// the seeded store (N checks, each with a few pings on disk, and the WAL the seeding
// left): from the call of engine.Open to GET /healthz answering 200.
type RecoveryResult struct {
	Name          string `json:"name"`
	Checks        int    `json:"checks"`
	PingsPerCheck int    `json:"pings_per_check"`
	DiskBytes     int64  `json:"disk_bytes"` // the data directory's size before the restart

	Seconds      float64 `json:"seconds"`       // engine.Open called → /healthz 200
	OpenSeconds  float64 `json:"open_seconds"`  // engine.Open, all of it
	LoadSeconds  float64 `json:"load_seconds"`  // engine.LoadTime: scanning, loading and arming the checks
	CloseSeconds float64 `json:"close_seconds"` // engine.Close afterwards
	Loaded       int     `json:"loaded"`

	full bool
}

func (x *RecoveryResult) ScenarioName() string { return x.Name }
func (x *RecoveryResult) Errors() int64        { return 0 }

func (x *RecoveryResult) rows() [][3]string {
	target := "≤ 10 s (at 1M checks)"
	if x.full {
		target = verdict(x.Seconds <= TargetRecoverySeconds, "≤ 10 s")
	}
	return [][3]string{
		{"open → serving", fmtSeconds(x.Seconds), target},
		{"engine.Open / of which LoadTime", fmtSeconds(x.OpenSeconds) + " / " + fmtSeconds(x.LoadSeconds), ""},
		{"data on disk", fmt.Sprintf("%s MiB, %d pings per check", mib(uint64(x.DiskBytes)), x.PingsPerCheck), ""},
	}
}

type recoveryJob struct {
	Dir    string `json:"dir"`
	Checks int    `json:"checks"`
}

func (r *runner) recovery(dir string) (Result, error) {
	job := recoveryJob{Dir: dir, Checks: r.o.Checks}
	x := &RecoveryResult{}
	disk := dirSize(dir)
	if _, err := r.runChildProcess(childJob{Role: roleRecovery, Recovery: &job}, x, nil); err != nil {
		return nil, err
	}
	x.Name, x.Checks, x.PingsPerCheck, x.DiskBytes = ScenarioRecovery, r.o.Checks, r.o.PingsPerCheck, disk
	x.full = r.o.Checks >= DefaultChecks
	r.progress("recovery: serving %s after engine.Open (LoadTime %s)", fmtSeconds(x.Seconds), fmtSeconds(x.LoadSeconds))
	return x, nil
}

func runRecoveryChild(job recoveryJob) (*RecoveryResult, error) {
	x := &RecoveryResult{}
	t0 := time.Now()
	e, err := engine.Open(engineOptions(job.Dir, 0, childLogger()))
	if err != nil {
		return nil, err
	}
	x.OpenSeconds = time.Since(t0).Seconds()
	x.LoadSeconds = e.LoadTime.Seconds()
	addr, err := serveLoopback(e)
	if err != nil {
		e.Close()
		return nil, err
	}
	if err := awaitHealthy(addr, time.Minute); err != nil {
		e.Close()
		return nil, err
	}
	x.Seconds = time.Since(t0).Seconds()
	x.Loaded = e.Registry().Len()
	t1 := time.Now()
	if err := e.Close(); err != nil {
		return nil, err
	}
	x.CloseSeconds = time.Since(t1).Seconds()
	if x.Loaded != job.Checks {
		return nil, fmt.Errorf("engine loaded %d checks, want %d", x.Loaded, job.Checks)
	}
	return x, nil
}

// awaitHealthy polls GET /healthz until it answers 200.
func awaitHealthy(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	url := "http://" + addr + "/healthz"
	for {
		code, _, err := fasthttp.GetTimeout(nil, url, 5*time.Second)
		if err == nil && code == fasthttp.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %v (status %d, %v)", url, timeout, code, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
