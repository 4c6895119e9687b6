package store

import (
	"runtime"
	"sync"
)

// Restart scan. One goroutine walks the 'c' keys and copies the values into
// chunks; GOMAXPROCS workers decode chunks into blocks of Checks; the caller's
// goroutine takes the chunks back in key order and calls fn. So fn is called
// sequentially, in check-id order, while decoding runs ahead in parallel.

const (
	scanChunkChecks = 1024
	scanChunkBytes  = 256 << 10
)

type scanChunk struct {
	buf    []byte
	ends   []int // ends[i] is the end offset in buf of value i
	checks []Check
	err    error
	done   chan struct{}
}

var scanBufs = sync.Pool{New: func() any { return new(scanChunk) }}

// AllChecks calls fn with every check in the store, in check-id order,
// sequentially on the caller's goroutine, and stops at fn's first error,
// which it returns. It is the restart path: the values are decoded in
// parallel, ahead of fn, on GOMAXPROCS goroutines. The *Check handed to fn is
// the caller's to keep. fn may call the Store's read methods (but not Close).
func (s *Store) AllChecks(fn func(*Check) error) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	it, err := s.iter([]byte{pfxCheck}, []byte{pfxCheck + 1})
	if err != nil {
		return err
	}
	workers := runtime.GOMAXPROCS(0)
	depth := 2*workers + 2
	var (
		stop  = make(chan struct{})
		order = make(chan *scanChunk, depth)
		work  = make(chan *scanChunk, depth)
		wg    sync.WaitGroup
		perr  error // the producer's; read after order is closed
	)
	wg.Add(1)
	go func() { // producer
		defer wg.Done()
		defer close(work)
		defer close(order)
		defer func() {
			if err := it.Close(); perr == nil {
				perr = err
			}
		}()
		send := func(ch *scanChunk) bool {
			select {
			case order <- ch:
			case <-stop:
				return false
			}
			select {
			case work <- ch:
				return true
			case <-stop:
				return false
			}
		}
		ch := newScanChunk()
		for ok := it.First(); ok; ok = it.Next() {
			ch.buf = append(ch.buf, it.Value()...)
			ch.ends = append(ch.ends, len(ch.buf))
			if len(ch.ends) == scanChunkChecks || len(ch.buf) >= scanChunkBytes {
				if !send(ch) {
					return
				}
				ch = newScanChunk()
			}
		}
		perr = it.Error()
		if len(ch.ends) > 0 && perr == nil {
			send(ch)
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w checkWire
			for ch := range work {
				ch.checks = make([]Check, len(ch.ends))
				start := 0
				for i, end := range ch.ends {
					if err := decodeCheck(ch.buf[start:end], &w, &ch.checks[i]); err != nil {
						ch.err = err
						break
					}
					start = end
				}
				close(ch.done)
			}
		}()
	}

	err = nil
	for ch := range order {
		<-ch.done
		if ch.err != nil {
			err = ch.err
			break
		}
		for i := range ch.checks {
			if err = fn(&ch.checks[i]); err != nil {
				break
			}
		}
		ch.release()
		if err != nil {
			break
		}
	}
	close(stop)
	wg.Wait()
	if err == nil {
		err = perr
	}
	return err
}

func newScanChunk() *scanChunk {
	ch := scanBufs.Get().(*scanChunk)
	ch.done = make(chan struct{})
	return ch
}

func (ch *scanChunk) release() {
	ch.buf = ch.buf[:0]
	ch.ends = ch.ends[:0]
	ch.checks = nil
	ch.err = nil
	ch.done = nil
	scanBufs.Put(ch)
}
