package actors

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A worker that is running a run is not idle: with every worker blocked, a run
// still runs (on a goroutine of its own), so a blocking handler cannot starve
// the others.
func TestDispatcherNeverStarves(t *testing.T) {
	d := newDispatcher(2)
	release := make(chan struct{})
	var blocked sync.WaitGroup
	blocked.Add(2)
	for range 2 {
		d.Schedule(func() { blocked.Done(); <-release })
	}
	waitOrFail(t, &blocked, "the two blocking runs did not start")

	var ran sync.WaitGroup
	ran.Add(10)
	for range 10 {
		d.Schedule(ran.Done)
	}
	waitOrFail(t, &ran, "runs scheduled while every worker was busy did not run")
	close(release)
	d.stop()
}

// Workers are reused: many runs in sequence are all done by the workers,
// and stop waits for a run under way.
func TestDispatcherWorkersAndStop(t *testing.T) {
	d := newDispatcher(1)
	for i := range 100 {
		done := make(chan struct{})
		d.Schedule(func() { close(done) })
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d never ran", i)
		}
	}

	// stop waits for a run under way (synctest: once every goroutine is
	// blocked, a stop that had not waited would have returned).
	synctest.Test(t, func(t *testing.T) {
		d := newDispatcher(1)
		synctest.Wait() // the worker is idle
		release, finished, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
		d.Schedule(func() { <-release; close(finished) })
		go func() { d.stop(); close(stopped) }()
		synctest.Wait()
		select {
		case <-stopped:
			t.Fatal("stop returned while a run was under way")
		default:
		}
		close(release)
		<-stopped
		select {
		case <-finished:
		default:
			t.Fatal("stop returned before the run finished")
		}
	})
	d.stop()

	// After stop, a run still runs, on a goroutine of its own.
	done := make(chan struct{})
	d.Schedule(func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a run scheduled after stop never ran")
	}
	if d.Throughput() != dispatcherThroughput {
		t.Fatalf("throughput %d, want %d", d.Throughput(), dispatcherThroughput)
	}
}

func waitOrFail(t *testing.T, wg *sync.WaitGroup, msg string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
	}
}
