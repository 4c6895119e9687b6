package store

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// A Batch collects the writes of one logical change; Store.Commit or
// Store.CommitAsync applies them atomically and durably.
//
// Batches are pooled: take one with NewBatch, fill it, and hand it to Commit
// or CommitAsync, which take it back — after that call the caller must not
// touch it again (not even once Commit has returned; take a new one with
// NewBatch, which is cheap). A batch that is not committed goes back with
// Discard. A Batch is not safe for concurrent use.
//
// The Put/Append/Add methods copy what they are given: the caller may reuse
// its records as soon as they return.
type Batch struct {
	s   *Store
	pb  *pebble.Batch
	err error // first encoding error; Commit returns it
	// spaced and pfx are s's: a space's batch writes every key with pfx in
	// front (set, del, delRange).
	spaced bool
	pfx    byte

	key  []byte
	key2 []byte
	val  bytes.Buffer
	cw   checkWire
	pw   pingWire
	prw  projectWire
	fw   flipWire

	// Set by Commit/CommitAsync for the committer.
	errc chan error
	done func(error)
}

// NewBatch returns an empty batch from the store's pool.
func (s *Store) NewBatch() *Batch {
	if b, ok := s.batches.Get().(*Batch); ok {
		return b
	}
	return &Batch{s: s, pb: s.db.NewBatch(), errc: make(chan error, 1), spaced: s.spaced, pfx: s.pfx}
}

// Discard returns an uncommitted batch to the pool, dropping its writes.
func (b *Batch) Discard() {
	b.reset()
	b.s.batches.Put(b)
}

func (b *Batch) reset() {
	b.pb.Reset()
	b.err = nil
	b.done = nil
	if b.val.Cap() > 64<<10 {
		b.val = bytes.Buffer{} // do not pin a one-off huge body
	}
}

// Len is the number of Pebble operations in the batch.
func (b *Batch) Len() int { return int(b.pb.Count()) }

func (b *Batch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// set, del and delRange are where every write of the package meets Pebble,
// and so where a space's prefix is added. The root's path is Pebble's call
// alone, as before spaces; a space's key is written straight into the
// batch's buffer (Pebble's deferred operations: the prefix, then the key),
// with no copy of its own and no allocation.

func (b *Batch) set(key, val []byte) {
	if b.spaced {
		b.spaceSet(key, val)
		return
	}
	if err := b.pb.Set(key, val, nil); err != nil {
		b.fail(err)
	}
}

func (b *Batch) del(key []byte) {
	if b.spaced {
		b.spaceDel(key)
		return
	}
	if err := b.pb.Delete(key, nil); err != nil {
		b.fail(err)
	}
}

func (b *Batch) delRange(lo, hi []byte) {
	if b.spaced {
		b.spaceDelRange(lo, hi)
		return
	}
	if err := b.pb.DeleteRange(lo, hi, nil); err != nil {
		b.fail(err)
	}
}

func (b *Batch) spaceSet(key, val []byte) {
	op := b.pb.SetDeferred(1+len(key), len(val))
	op.Key[0] = b.pfx
	copy(op.Key[1:], key)
	copy(op.Value, val)
	if err := op.Finish(); err != nil {
		b.fail(err)
	}
}

func (b *Batch) spaceDel(key []byte) {
	op := b.pb.DeleteDeferred(1 + len(key))
	op.Key[0] = b.pfx
	copy(op.Key[1:], key)
	if err := op.Finish(); err != nil {
		b.fail(err)
	}
}

func (b *Batch) spaceDelRange(lo, hi []byte) {
	op := b.pb.DeleteRangeDeferred(1+len(lo), 1+len(hi))
	op.Key[0], op.Value[0] = b.pfx, b.pfx
	copy(op.Key[1:], lo)
	copy(op.Value[1:], hi)
	if err := op.Finish(); err != nil {
		b.fail(err)
	}
}

// delIDRange deletes every key under pfx id with one range deletion: for
// deletions that are rare and large (a project's).
func (b *Batch) delIDRange(pfx byte, id uuid.UUID) {
	b.key = appendID(b.key[:0], pfx, id)
	b.key2 = prefixEnd(b.key2[:0], b.key)
	b.delRange(b.key, b.key2)
}

// delIDKeys deletes every stored key under pfx id, one point deletion each.
func (b *Batch) delIDKeys(pfx byte, id uuid.UUID) {
	b.key = appendID(b.key[:0], pfx, id)
	b.key2 = prefixEnd(b.key2[:0], b.key)
	b.delKeys(b.key, b.key2)
}

// delKeys deletes every stored key in [lo, hi) with point deletions, not a
// range deletion: each range deletion added to the memtable makes the next
// read re-fragment all of the memtable's range deletions, so one per check
// deleted (or per incident opened) made every read cost O(deletions since the
// last flush) — 740 µs a check delete after 20,000 of them
// (BenchmarkDeleteCheck). The keys are few (a check's ping log is capped;
// retention drops a handful at a time). It sees committed keys only, which is
// what every caller needs: nothing else writes to the check meanwhile.
func (b *Batch) delKeys(lo, hi []byte) {
	if !b.s.enter() {
		b.fail(ErrClosed)
		return
	}
	defer b.s.exit()
	it, err := b.s.iter(lo, hi)
	if err != nil {
		b.fail(fmt.Errorf("list keys to delete: %w", err))
		return
	}
	for ok := it.First(); ok; ok = it.Next() {
		b.del(it.Key())
	}
	if err := it.Close(); err != nil {
		b.fail(fmt.Errorf("list keys to delete: %w", err))
	}
}

// PutProject writes p and (re)writes the key index entries for its two key
// hashes and its ping key. A zero hash or empty ping key is not indexed.
func (b *Batch) PutProject(p *Project) {
	b.prw.from(p)
	b.val.Reset()
	if err := encMode.MarshalToBuffer(&b.prw, &b.val); err != nil {
		b.fail(fmt.Errorf("encode project %s: %w", p.ID, err))
		return
	}
	b.key = projectKey(b.key[:0], p.ID)
	b.set(b.key, b.val.Bytes())

	var v [17]byte
	copy(v[:16], p.ID[:])
	if p.APIKeyHash != ([32]byte{}) {
		v[16] = byte(RoleReadWrite)
		b.key = keyHashKey(b.key[:0], p.APIKeyHash)
		b.set(b.key, v[:])
	}
	if p.ReadOnlyKeyHash != ([32]byte{}) {
		v[16] = byte(RoleReadOnly)
		b.key = keyHashKey(b.key[:0], p.ReadOnlyKeyHash)
		b.set(b.key, v[:])
	}
	if p.PingKey != "" {
		b.key = pingKeyKey(b.key[:0], p.PingKey)
		b.set(b.key, v[:16])
	}
}

// DeleteProjectKeys removes p's key index entries (its two key hashes and its
// ping key); used on key rotation, before PutProject with the new ones.
func (b *Batch) DeleteProjectKeys(p *Project) {
	if p.APIKeyHash != ([32]byte{}) {
		b.key = keyHashKey(b.key[:0], p.APIKeyHash)
		b.del(b.key)
	}
	if p.ReadOnlyKeyHash != ([32]byte{}) {
		b.key = keyHashKey(b.key[:0], p.ReadOnlyKeyHash)
		b.del(b.key)
	}
	if p.PingKey != "" {
		b.key = pingKeyKey(b.key[:0], p.PingKey)
		b.del(b.key)
	}
}

// PutCheck writes c and its index entries (its project's check list and, if
// it has a slug, the slug index). old is the version c replaces, or nil for a
// new check: when old's slug (or project) differs, its stale entries are
// removed. old == c (the same pointer) says only runtime state changed, as on
// every ping: then the indexes are known to be in place and only the record is
// written, one memtable insert instead of three.
func (b *Batch) PutCheck(old, c *Check) {
	if err := encodeCheck(&b.val, &b.cw, c); err != nil {
		b.fail(fmt.Errorf("encode check %s: %w", c.ID, err))
		return
	}
	b.key = checkKey(b.key[:0], c.ID)
	b.set(b.key, b.val.Bytes())
	if old == c {
		return
	}
	if old != nil {
		if old.ProjectID != c.ProjectID {
			b.key = projCheckKey(b.key[:0], old.ProjectID, old.ID)
			b.del(b.key)
		}
		if old.Slug != "" && (old.Slug != c.Slug || old.ProjectID != c.ProjectID) {
			b.key = slugKey(b.key[:0], old.ProjectID, old.Slug, old.ID)
			b.del(b.key)
		}
	}
	// The index entries are rewritten unconditionally: a blind set of an
	// empty value is cheaper than reading whether it is already there, and it
	// keeps PutCheck(nil, c) correct for a check that already exists.
	b.key = projCheckKey(b.key[:0], c.ProjectID, c.ID)
	b.set(b.key, nil)
	if c.Slug != "" {
		b.key = slugKey(b.key[:0], c.ProjectID, c.Slug, c.ID)
		b.set(b.key, nil)
	}
	b.putDialectIndex(old, c)
	b.putLookupIndex(old, c)
}

// AppendPing writes log entry p.N of check c (and p.Body, if any, under its
// own key), and deletes entry p.N-PingLogLimit and, unless c's record shows
// that ping had none, its body (retention). It keeps that bookkeeping in
// c.NoBodyFrom, so c must be put in the same batch: most checks never send a
// body, and a blind body tombstone was one of a ping's four memtable inserts.
func (b *Batch) AppendPing(c *Check, p *Ping) {
	b.pw.from(p)
	b.val.Reset()
	setBuffer(&b.val, appendPingFast(b.val.AvailableBuffer(), &b.pw))
	b.key = pingLogKey(b.key[:0], pfxPing, c.ID, p.N)
	b.set(b.key, b.val.Bytes())
	if len(p.Body) > 0 {
		b.key = pingLogKey(b.key[:0], pfxBody, c.ID, p.N)
		b.set(b.key, p.Body)
		c.NoBodyFrom = p.N + 1
	} else if c.NoBodyFrom == 0 {
		c.NoBodyFrom = p.N // unknown until now: a record from before the field
	}
	if limit := uint64(b.s.opts.PingLogLimit); p.N > limit {
		old := p.N - limit
		b.key = pingLogKey(b.key[:0], pfxPing, c.ID, old)
		b.del(b.key)
		if old < c.NoBodyFrom {
			b.key = pingLogKey(b.key[:0], pfxBody, c.ID, old)
			b.del(b.key)
		}
	}
}

// AddFlip records a status change of the check. Flips with equal times are
// kept apart (and in order) by a sequence number in the key.
func (b *Batch) AddFlip(checkID uuid.UUID, f Flip) {
	b.fw.from(&f)
	b.val.Reset()
	setBuffer(&b.val, appendFlipFast(b.val.AvailableBuffer(), &b.fw))
	b.key = flipKey(b.key[:0], checkID, f.Time, b.s.flipSeq.Add(1))
	b.set(b.key, b.val.Bytes())
}

// deleteCheck adds the deletion of check c and everything under it.
func (b *Batch) deleteCheck(c *Check) {
	b.key = checkKey(b.key[:0], c.ID)
	b.del(b.key)
	b.key = projCheckKey(b.key[:0], c.ProjectID, c.ID)
	b.del(b.key)
	if c.Slug != "" {
		b.key = slugKey(b.key[:0], c.ProjectID, c.Slug, c.ID)
		b.del(b.key)
	}
	b.deleteDialectIndex(c)
	b.deleteLookupIndex(c)
	b.delIDKeys(pfxPing, c.ID)
	b.delIDKeys(pfxBody, c.ID)
	b.delIDKeys(pfxFlip, c.ID)
	b.delIDKeys(pfxNotif, c.ID)
	b.delIDKeys(pfxIncident, c.ID)
}
