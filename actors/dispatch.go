package actors

import (
	"runtime"
	"sync"
)

// dispatcher runs actors' mailboxes on long-lived goroutines. protoactor's
// default dispatcher starts a goroutine for every run of an idle mailbox,
// which for a monitor is every probe's result: the new goroutine's stack then
// grows (copied, frame by frame) to the depth of the state machine, the CBOR
// encoder and Pebble's memtable insert, and is dropped again. A worker grows
// its stack once.
//
// A run is handed to an idle worker; when none is idle (every worker is
// running a mailbox), it gets a goroutine of its own as protoactor would give
// it, so a handler that blocks can never starve the others. It implements
// actor.Dispatcher.
type dispatcher struct {
	runs     chan func() // unbuffered: a send succeeds only to an idle worker
	quit     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// dispatcherThroughput is the messages a mailbox handles per run before it
// yields its goroutine, protoactor's default.
const dispatcherThroughput = 300

// dispatchWorkers is the workers of a dispatcher: a mailbox run is short and
// does not block, so few runs are under way at once, but a worker handed a run
// may wait for a P before it takes it, and meanwhile the next run needs
// another idle worker.
func dispatchWorkers() int { return 4 * runtime.GOMAXPROCS(0) }

// newDispatcher starts workers idle goroutines; stop ends them.
func newDispatcher(workers int) *dispatcher {
	d := &dispatcher{runs: make(chan func()), quit: make(chan struct{})}
	for range workers {
		d.wg.Go(d.work)
	}
	return d
}

func (d *dispatcher) work() {
	for {
		select {
		case run := <-d.runs:
			run()
		case <-d.quit:
			return
		}
	}
}

// Schedule runs fn on an idle worker, or on a goroutine of its own.
func (d *dispatcher) Schedule(fn func()) {
	select {
	case d.runs <- fn:
	default:
		go fn()
	}
}

// Throughput is the messages a mailbox handles per run.
func (d *dispatcher) Throughput() int { return dispatcherThroughput }

// stop ends the idle workers and waits for the busy ones to finish their
// runs. Runs scheduled after it get goroutines of their own.
func (d *dispatcher) stop() {
	d.quitIdle()
	d.wg.Wait()
}

// quitIdle ends the workers as they become idle, without waiting for them.
func (d *dispatcher) quitIdle() { d.stopOnce.Do(func() { close(d.quit) }) }
