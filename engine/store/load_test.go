package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// withoutInstallKey is keys (spaceKeys of a space) less its install key.
func withoutInstallKey(keys []string) []string {
	ik := fmt.Sprintf("%x", []byte{pfxInstalled})
	return slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == ik })
}

// A loaded state replaces exactly its key space, as ReadState does, with
// the caller's install record in place of the sender's, and survives a
// restart; its tables are gone once ingested. With no view open the space
// is excised.
func TestLoadStateReplacesSpace(t *testing.T) {
	for _, size := range []int64{0, 256} {
		t.Run(fmt.Sprintf("tables of %d bytes", size), func(t *testing.T) { testLoadStateReplacesSpace(t, size) })
	}
}

func testLoadStateReplacesSpace(t *testing.T, tableSize int64) {
	const space = 1
	lo, hi := SpaceSpan(space)
	src := openT(t, Options{})
	id, other := newSpaceIDs(), newSpaceIDs()
	fillAs(t, src, id, "root", 1)
	fillAs(t, spaceT(t, src, space, SpaceOptions{}), id, "one", 2)
	fillAs(t, spaceT(t, src, 2, SpaceOptions{}), id, "two", 3)
	// The sender installed a snapshot once: its record is not the receiver's.
	commitT(t, src, func(b *Batch) { b.set(installKey(lo), []byte("sender's")) })
	stream := writeState(t, src, lo, hi)

	dir := t.TempDir()
	dst, err := Open(Options{Dir: dir, LoadTableSize: tableSize})
	if err != nil {
		t.Fatal(err)
	}
	fillAs(t, dst, other, "root", 1)
	// In the memtable when the tables go in: they go in on top of it.
	fillAs(t, spaceT(t, dst, space, SpaceOptions{}), other, "stale", 3)
	fillAs(t, spaceT(t, dst, 2, SpaceOptions{}), other, "two", 2)
	for _, sp := range []int{space, 2} {
		if err := dst.spaces[sp].Close(); err != nil {
			t.Fatal(err)
		}
	}
	commitT(t, dst, func(b *Batch) { b.PutRaftApplied(space, []byte("dst")) })

	l, err := dst.LoadState(bytes.NewReader(stream), lo, hi, []byte("receiver's"))
	if err != nil {
		t.Fatal(err)
	}
	// The sender's install record is dropped.
	if want := uint64(len(streamKeys(t, stream))) - 1; l.Records() != want || l.Bytes() == 0 {
		t.Fatalf("loaded %d records in %d bytes; the stream has %d besides the sender's install record", l.Records(), l.Bytes(), want)
	}
	if tableSize != 0 && l.Tables() < 3 {
		t.Fatalf("%d tables of at most %d bytes for %d records", l.Tables(), tableSize, l.Records())
	}
	if err := dst.IngestState(l); err != nil {
		t.Fatal(err)
	}
	if !l.Excised() {
		t.Fatal("a key space loaded with no view open was not excised")
	}
	if err := dst.IngestState(l); err == nil {
		t.Fatal("a load ingested twice")
	}
	left, err := filepath.Glob(filepath.Join(dir, stateLoadDir, "*"))
	if err != nil || len(left) != 0 {
		t.Fatalf("tables left after the ingestion: %v, %v", left, err)
	}
	check := func(dst *Store) {
		t.Helper()
		target, neighbour := spaceT(t, dst, space, SpaceOptions{}), spaceT(t, dst, 2, SpaceOptions{})
		defer target.Close()
		defer neighbour.Close()
		verifyAs(t, target, id, "one", 2)
		if got, want := withoutInstallKey(spaceKeys(t, dst, space)), withoutInstallKey(spaceKeys(t, src, space)); !slices.Equal(got, want) {
			t.Fatalf("space %d after the ingestion: %d keys, want the source's %d", space, len(got), len(want))
		}
		if rec, err := dst.InstallRecord(lo); err != nil || string(rec) != "receiver's" {
			t.Fatalf("install record = %q, %v", rec, err)
		}
		verifyAs(t, dst, other, "root", 1)
		verifyAs(t, neighbour, other, "two", 2)
		if a, _ := dst.RaftApplied(space); string(a) != "dst" {
			t.Fatalf("raft applied = %q: the ingestion must keep the node's own", a)
		}
	}
	check(dst)
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst, err = Open(Options{Dir: dir, LoadTableSize: tableSize})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	check(dst)
	if rec, err := dst.InstallRecord([]byte{SpacePrefix(2)}); err != nil || rec != nil {
		t.Fatalf("space 2 has install record %q, %v", rec, err)
	}
}

// A damaged or cut stream loads nothing and leaves no table; a table left
// by a crash before its ingestion is removed by the next Open.
func TestLoadStateRefusesDamage(t *testing.T) {
	lo, hi := SpaceSpan(4)
	src := openT(t, Options{})
	fillAs(t, spaceT(t, src, 4, SpaceOptions{}), newSpaceIDs(), "four", 3)
	stream := writeState(t, src, lo, hi)
	dir := t.TempDir()
	// Small tables: a load refused at the stream's end has written several.
	dst, err := Open(Options{Dir: dir, LoadTableSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(stream)
	flipped[len(flipped)/2] ^= 0x40
	outside := writeState(t, src, nil, nil) // keys outside space 4
	for name, in := range map[string][]byte{
		"cut":     stream[:len(stream)-7],
		"flipped": flipped,
		"outside": outside,
	} {
		if l, err := dst.LoadState(bytes.NewReader(in), lo, hi, nil); !errors.Is(err, ErrBadState) {
			l.Discard()
			t.Fatalf("%s stream: %v, want ErrBadState", name, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, stateLoadDir, "*")); len(left) != 0 {
		t.Fatalf("tables left by refused loads: %v", left)
	}
	if n := countSpace(rawKeys(t, dst), 4); n != 0 {
		t.Fatalf("%d keys in space 4 after refused loads", n)
	}
	if l, err := dst.LoadState(bytes.NewReader(stream), lo, hi, nil); err != nil {
		t.Fatal(err)
	} else if l.Tables() < 2 {
		t.Fatalf("%d table of 256 bytes", l.Tables())
	}
	if err := dst.Close(); err != nil { // a crash before the ingestion
		t.Fatal(err)
	}
	dst, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if left, _ := filepath.Glob(filepath.Join(dir, stateLoadDir, "*")); len(left) != 0 {
		t.Fatalf("Open kept tables never ingested: %v", left)
	}
	if n := countSpace(rawKeys(t, dst), 4); n != 0 {
		t.Fatalf("%d keys in space 4 from a load never ingested", n)
	}
	if _, err := spaceT(t, dst, 4, SpaceOptions{}).LoadState(bytes.NewReader(stream), nil, nil, nil); !errors.Is(err, ErrRootOnly) {
		t.Fatalf("LoadState on a key space: %v, want ErrRootOnly", err)
	}
}

// syntheticState streams n records of space's ping log, each with a value
// of size random bytes, as WriteState would, generated as it is read: the
// stream itself is never in memory.
func syntheticState(space, n, size int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		crc := crc32.New(crc32c)
		w := io.MultiWriter(pw, crc)
		r := rand.New(rand.NewPCG(1, 2))
		val := make([]byte, size)
		var rec []byte
		for i := range n {
			for j := 0; j < size; j += 8 {
				binary.LittleEndian.PutUint64(val[j:], r.Uint64())
			}
			key := binary.BigEndian.AppendUint64([]byte{SpacePrefix(space), pfxPing}, uint64(i))
			rec = binary.AppendUvarint(rec[:0], uint64(len(key)))
			rec = append(rec, key...)
			rec = binary.AppendUvarint(rec, uint64(size))
			rec = append(rec, val...)
			if _, err := w.Write(rec); err != nil {
				return
			}
		}
		if _, err := w.Write(binary.BigEndian.AppendUint64([]byte{0}, uint64(n))); err != nil {
			return
		}
		_, _ = pw.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
		pw.Close()
	}()
	return pr
}

// heapWatch reads through r and records the most heap in use, sampled
// every few megabytes read.
type heapWatch struct {
	r         io.Reader
	sinceLook int
	peak      uint64
}

func (h *heapWatch) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.sinceLook += n; h.sinceLook >= 2<<20 {
		h.sinceLook = 0
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		h.peak = max(h.peak, ms.HeapInuse)
	}
	return n, err
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Loading holds a block of the state at a time, where ReadState holds all
// of it: the heap a load of 64 MiB adds stays a fraction of it. (Figures,
// logged, are in docs/BENCHMARKS.md.)
func TestLoadStateMemoryIsBounded(t *testing.T) {
	const space, n, size = 3, 16 << 10, 4 << 10 // 64 MiB of values
	lo, hi := SpaceSpan(space)
	dst := openT(t, Options{})

	base := heapInUse()
	w := &heapWatch{r: syntheticState(space, n, size)}
	l, err := dst.LoadState(w, lo, hi, []byte("rec"))
	if err != nil {
		t.Fatal(err)
	}
	loadPeak := w.peak - min(w.peak, base)
	if err := dst.IngestState(l); err != nil {
		t.Fatal(err)
	}
	if got := countSpace(rawKeys(t, dst), space); got != n+1 {
		t.Fatalf("%d keys in space %d after the ingestion, want %d and the install record", got, space, n)
	}

	base = heapInUse()
	w = &heapWatch{r: syntheticState(space, n, size)}
	b := dst.NewBatch()
	if err := b.ReadState(w, lo, hi); err != nil {
		t.Fatal(err)
	}
	batchPeak := w.peak - min(w.peak, base)
	b.Discard()
	t.Logf("64 MiB state: heap added while loading to a table %.1f MiB, while reading into a batch %.1f MiB",
		float64(loadPeak)/(1<<20), float64(batchPeak)/(1<<20))
	if loadPeak > 16<<20 {
		t.Fatalf("loading 64 MiB added %.1f MiB of heap: the state is being held", float64(loadPeak)/(1<<20))
	}
}

// An excise would take the span's files from under an open view (a Pebble
// snapshot is only a sequence number), so with one open the span is
// replaced by the tables' range deletions, and the view still reads the
// state it was taken on. With none open the span is excised, and the new
// tables go straight to the bottom level: nothing is left to compact.
func TestIngestStateUnderAView(t *testing.T) {
	const space = 5
	lo, hi := SpaceSpan(space)
	src := openT(t, Options{})
	id := newSpaceIDs()
	fillAs(t, spaceT(t, src, space, SpaceOptions{}), id, "new", 3)
	stream := writeState(t, src, lo, hi)

	dst := openT(t, Options{LoadTableSize: 512})
	old := newSpaceIDs()
	fillAs(t, spaceT(t, dst, space, SpaceOptions{}), old, "old", 2)
	fillAs(t, dst, old, "root", 1)
	if err := dst.db.Compact(context.Background(), []byte{0}, keysEnd, true); err != nil {
		t.Fatal(err)
	}
	before := writeState(t, dst, lo, hi)
	v, err := dst.SpanView(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	// A view of another space leaves this one free to be excised.
	olo, ohi := SpaceSpan(space + 1)
	other, err := dst.SpanView(olo, ohi)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.WriteState(io.Discard, lo, hi); err == nil {
		t.Fatal("a span view wrote a span outside it")
	}
	load := func() *StateLoad {
		t.Helper()
		l, err := dst.LoadState(bytes.NewReader(stream), lo, hi, []byte("rec"))
		if err != nil {
			t.Fatal(err)
		}
		if err := dst.IngestState(l); err != nil {
			t.Fatal(err)
		}
		if got, want := withoutInstallKey(spaceKeys(t, dst, space)), withoutInstallKey(spaceKeys(t, src, space)); !slices.Equal(got, want) {
			t.Fatalf("space %d after the ingestion: %d keys, want the source's %d", space, len(got), len(want))
		}
		verifyAs(t, dst, old, "root", 1)
		return l
	}
	if l := load(); l.Excised() {
		t.Fatal("excised with a view open")
	}
	var seen bytes.Buffer
	if err := v.WriteState(&seen, lo, hi); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seen.Bytes(), before) {
		t.Fatalf("the view reads %d bytes of state after the ingestion, %d before", seen.Len(), len(before))
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dst.db.Compact(context.Background(), []byte{0}, keysEnd, true); err != nil {
		t.Fatal(err)
	}
	l := load()
	if !l.Excised() {
		t.Fatal("not excised with only another space's view open")
	}
	m := dst.db.Metrics()
	for lvl := range 6 {
		if n := m.Levels[lvl].TablesCount; n != 0 {
			t.Fatalf("after an excise, %d tables in L%d: the %d ingested belong in L6", n, lvl, l.Tables())
		}
	}
}

// A state of the whole root (the raft log's keys are holes in it) is split
// into tables whose range deletions skip the holes: the node's raft keys
// are kept, and the tables are ingested together.
func TestLoadStateSplitsAroundHoles(t *testing.T) {
	src := openT(t, Options{})
	id := newSpaceIDs()
	fillAs(t, src, id, "root", 3)
	commitT(t, src, func(b *Batch) { b.PutRaftEntry(0, 7, []byte("src entry")) })
	stream := writeState(t, src, nil, nil)

	dst := openT(t, Options{LoadTableSize: 256})
	fillAs(t, dst, newSpaceIDs(), "stale", 2)
	commitT(t, dst, func(b *Batch) {
		b.PutRaftEntry(0, 9, []byte("dst entry"))
		b.PutRaftState(0, []byte("dst state"))
		b.PutRaftApplied(0, []byte("dst applied"))
	})
	l, err := dst.LoadState(bytes.NewReader(stream), nil, nil, []byte("rec"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Tables() < 3 {
		t.Fatalf("%d tables of 256 bytes for %d records", l.Tables(), l.Records())
	}
	if err := dst.IngestState(l); err != nil {
		t.Fatal(err)
	}
	if l.Excised() {
		t.Fatal("a span with holes was excised")
	}
	verifyAs(t, dst, id, "root", 3)
	var entries []string
	if err := dst.RaftEntries(0, 0, 100, func(i uint64, e []byte) bool {
		entries = append(entries, fmt.Sprintf("%d=%s", i, e))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(entries, []string{"9=dst entry"}) {
		t.Fatalf("raft entries after the ingestion: %v, want the node's own", entries)
	}
	if st, _ := dst.RaftState(0); string(st) != "dst state" {
		t.Fatalf("raft state = %q", st)
	}
	if a, _ := dst.RaftApplied(0); string(a) != "dst applied" {
		t.Fatalf("raft applied = %q", a)
	}
	// Every state key is the source's: the stale ones are gone.
	var got, want []string
	for _, k := range rawKeys(t, dst) {
		if inSpans(stateSpans(nil, nil), k) && string(k) != string(installKey(nil)) {
			got = append(got, fmt.Sprintf("%x", k))
		}
	}
	for _, k := range rawKeys(t, src) {
		if inSpans(stateSpans(nil, nil), k) {
			want = append(want, fmt.Sprintf("%x", k))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%d state keys after the ingestion, want the source's %d", len(got), len(want))
	}
}

// syncCountingFS counts the syncs of the files created under dir.
type syncCountingFS struct {
	vfs.FS
	dir   string
	syncs *atomic.Int64
}

type syncCountingFile struct {
	vfs.File
	syncs *atomic.Int64
}

func (f syncCountingFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.Create(name, cat)
	if err != nil || !strings.HasPrefix(name, f.dir) {
		return file, err
	}
	return syncCountingFile{File: file, syncs: f.syncs}, nil
}

func (f syncCountingFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

// A load refused on the way closes its table without syncing it: it is
// removed at once.
func TestAbandonedLoadIsNotSynced(t *testing.T) {
	lo, hi := SpaceSpan(6)
	src := openT(t, Options{})
	fillAs(t, spaceT(t, src, 6, SpaceOptions{}), newSpaceIDs(), "six", 3)
	stream := writeState(t, src, lo, hi)
	dir := t.TempDir()
	fs := syncCountingFS{FS: vfs.Default, dir: filepath.Join(dir, stateLoadDir), syncs: new(atomic.Int64)}
	dst := openT(t, Options{Dir: dir, FS: fs, LoadTableSize: 256})
	if _, err := dst.LoadState(bytes.NewReader(stream[:len(stream)-7]), lo, hi, nil); !errors.Is(err, ErrBadState) {
		t.Fatalf("cut stream: %v, want ErrBadState", err)
	}
	// The tables finished before the cut was found were synced; the one
	// in progress was not.
	cut := fs.syncs.Load()
	l, err := dst.LoadState(bytes.NewReader(stream), lo, hi, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Discard()
	if whole := fs.syncs.Load() - cut; cut != whole-1 {
		t.Fatalf("a load of %d tables synced %d; the cut one, given up at its last, synced %d", l.Tables(), whole, cut)
	}
}
