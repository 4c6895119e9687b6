package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigilo/vigilo/cluster"
	"github.com/vigilo/vigilo/engine"
)

// nodeJob is a server child: a single vigilo node, or one node of a
// cluster, serving until it is signalled (or killed, which is the point).
type nodeJob struct {
	DataDir string `json:"data_dir"`
	Listen  string `json:"listen"` // the single node's; a cluster node's is its Peers entry
	// ID and Peers make it a cluster node (package cluster).
	ID    uint64                  `json:"id,omitempty"`
	Peers map[uint64]cluster.Peer `json:"peers,omitempty"`
	// Join makes a cluster node start empty and ask Peers to add it;
	// CompactEvery is its raft log's cut (cluster.Options); PingLogLimit
	// the pings kept per check (engine.Options). Zero: the defaults.
	Join         bool `json:"join,omitempty"`
	CompactEvery int  `json:"compact_every,omitempty"`
	PingLogLimit int  `json:"ping_log_limit,omitempty"`
	// CPUProfile, when set, is where the child writes a CPU profile of the
	// time between a SIGUSR1 and the next SIGUSR2 (profileWindow).
	CPUProfile string `json:"cpu_profile,omitempty"`
}

func (j nodeJob) engineOptions() engine.Options {
	return engine.Options{
		DataDir: j.DataDir, Listen: j.Listen, APIKey: benchAPIKey, AdminKey: benchAdminKey, MinPeriod: time.Second,
		PingLogLimit: j.PingLogLimit, Logger: childLogger(),
	}
}

// runNodeChild serves until SIGTERM or SIGINT, after a "start" line once it
// takes requests.
func runNodeChild(j nodeJob, w *lineWriter) (any, error) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if j.CPUProfile != "" {
		stop := profileWindow(j.CPUProfile)
		defer stop()
	}
	var closeFn func() error
	if j.ID != 0 {
		n, err := cluster.Open(cluster.Options{ID: j.ID, Peers: j.Peers, Join: j.Join, CompactEvery: j.CompactEvery,
			Engine: j.engineOptions()})
		if err != nil {
			return nil, err
		}
		closeFn = n.Close
	} else {
		e, err := engine.Open(j.engineOptions())
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", j.Listen)
		if err != nil {
			e.Close()
			return nil, err
		}
		if err := e.Serve(ln); err != nil {
			e.Close()
			return nil, err
		}
		closeFn = e.Close
	}
	if err := w.event("start"); err != nil {
		closeFn()
		return nil, err
	}
	<-sig
	return struct{}{}, closeFn()
}

// profileWindow profiles the CPU from each SIGUSR1 to the next SIGUSR2,
// into path, so the runner can profile a node child over its measured
// window alone; the returned func stops it.
func profileWindow(path string) func() {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		stop := func() {}
		for {
			select {
			case <-done:
				stop()
				return
			case s := <-sig:
				if s == syscall.SIGUSR1 {
					if st, err := startProfile(path); err == nil {
						stop = st
					}
				} else {
					stop()
					stop = func() {}
				}
			}
		}
	}()
	return func() { signal.Stop(sig); close(done); <-finished }
}

// signal sends the child s.
func (p *nodeProc) signal(s os.Signal) { _ = p.cmd.Process.Signal(s) }

// nodeProc is a running server child.
type nodeProc struct {
	cmd  *exec.Cmd
	done chan error
}

// startNode starts a server child and returns once it serves (its "start"
// line); the child dies with this process.
func (r *runner) startNode(j nodeJob) (*nodeProc, error) {
	spec, err := json.Marshal(childJob{Role: roleNode, Node: &j})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.o.Exec[0], r.o.Exec[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = r.o.Progress
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node child: %w", err)
	}
	p := &nodeProc{cmd: cmd, done: make(chan error, 1)}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			var l childLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Event == "start" && !sent {
				close(started)
				sent = true
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case <-started:
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("node child exited before serving: %v", err)
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		return nil, fmt.Errorf("node child did not serve within 2 minutes")
	}
}

// kill9 kills the child at once, as a crash would.
func (p *nodeProc) kill9() {
	if p.cmd.Process.Kill() == nil {
		<-p.done
	}
}

// stop asks the child to close and waits for it.
func (p *nodeProc) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil // gone already
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		return <-p.done
	}
}
