package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// childEnv carries a child's job (JSON) from the parent; its presence makes a
// process a child.
const childEnv = "VIGILO_BENCH_CHILD"

// Child roles.
const (
	roleLoadgen  = "loadgen"
	roleMemory   = "memory"
	roleRecovery = "recovery"
	roleAPI      = "api"
	roleNode     = "node"
)

type childJob struct {
	Role     string       `json:"role"`
	Loadgen  *loadgenJob  `json:"loadgen,omitempty"`
	Memory   *memoryJob   `json:"memory,omitempty"`
	Recovery *recoveryJob `json:"recovery,omitempty"`
	API      *apiJob      `json:"api,omitempty"`
	Node     *nodeJob     `json:"node,omitempty"`
}

// childLine is one line a child writes on its stdout.
type childLine struct {
	Event  string          `json:"event"` // "start" (loadgen: the measured window opens), "result"
	Result json.RawMessage `json:"result,omitempty"`
}

// MaybeChild makes this process a benchmark child when the parent started it as
// one: it runs the job, writes its result on stdout and exits. Otherwise it returns
// at once. Call it first thing in any binary named by Options.Exec (`vigilo bench`
// does; a test binary calls it from TestMain).
func MaybeChild() {
	v, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	if err := runChild(v, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runChild(spec string, out io.Writer) error {
	var job childJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		return fmt.Errorf("bad job %s: %w", childEnv, err)
	}
	w := &lineWriter{enc: json.NewEncoder(out)}
	var res any
	var err error
	switch {
	case job.Role == roleLoadgen && job.Loadgen != nil:
		res, err = runLoadgen(*job.Loadgen, w)
	case job.Role == roleMemory && job.Memory != nil:
		res, err = runMemoryChild(*job.Memory)
	case job.Role == roleRecovery && job.Recovery != nil:
		res, err = runRecoveryChild(*job.Recovery)
	case job.Role == roleAPI && job.API != nil:
		res, err = runAPIChild(*job.API)
	case job.Role == roleNode && job.Node != nil:
		res, err = runNodeChild(*job.Node, w)
	default:
		return fmt.Errorf("unknown child role %q", job.Role)
	}
	if err != nil {
		return err
	}
	return w.result(res)
}

type lineWriter struct{ enc *json.Encoder }

func (w *lineWriter) event(name string) error { return w.enc.Encode(childLine{Event: name}) }

func (w *lineWriter) result(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.enc.Encode(childLine{Event: "result", Result: b})
}

// childRun is a finished child: its result and its own CPU time.
type childRun struct {
	cpu time.Duration // user + system, whole life of the child
}

// runChildProcess starts a child with job, decodes its result into res, calls
// onEvent for every line as it arrives ("start", "result"), and waits for it to exit.
func (r *runner) runChildProcess(job childJob, res any, onEvent func(string)) (childRun, error) {
	spec, err := json.Marshal(job)
	if err != nil {
		return childRun{}, err
	}
	cmd := exec.Command(r.o.Exec[0], r.o.Exec[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = r.o.Progress
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return childRun{}, err
	}
	if err := cmd.Start(); err != nil {
		return childRun{}, fmt.Errorf("start %s child: %w", job.Role, err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	gotResult := false
	var decodeErr error
	for sc.Scan() {
		var l childLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // not ours (a library printing on stdout)
		}
		if l.Event == "result" {
			gotResult = true
			decodeErr = json.Unmarshal(l.Result, res)
		}
		if onEvent != nil {
			onEvent(l.Event)
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	var run childRun
	if ps := cmd.ProcessState; ps != nil {
		run.cpu = ps.UserTime() + ps.SystemTime()
	}
	switch {
	case werr != nil:
		return run, fmt.Errorf("%s child: %w", job.Role, werr)
	case !gotResult:
		return run, fmt.Errorf("%s child: exited without a result", job.Role)
	case decodeErr != nil:
		return run, fmt.Errorf("%s child: result: %w", job.Role, decodeErr)
	}
	return run, nil
}

// selfCPU is this process's user + system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var errNoProc = errors.New("/proc/self/status has no VmRSS (not Linux?)")
