// Package store is everything vigilo keeps on disk: projects, checks (their
// configuration and runtime state in one record), ping logs with their bodies,
// and status flips, in one Pebble database per node.
//
// It is a leaf package: it knows nothing of actors, HTTP or alerting. The
// engine reads everything once at start (AllChecks), then writes each change
// as one Batch and reads back on demand (ping logs, flips, key lookups).
//
// # Durability contract
//
// A Batch is applied atomically: after a crash either all of its writes are
// there or none are. Commit returns only once the batch's WAL record has been
// fsynced; CommitAsync calls its done function at that same point. Commits
// complete in the order they were submitted, so a Commit (even of an empty
// batch) is also a barrier for every CommitAsync before it. Reads see every
// commit that has completed and may see one that is still syncing (as Pebble
// does). Only one Store may have a directory open: Pebble's LOCK file is taken
// first, and a second Open (this process or another) fails with ErrLocked.
// Close commits and syncs everything queued before it returns.
//
// ApplySample is the one exception, for records that are samples (a routine
// probe's response time): it buffers the batch in memory and returns, and the
// buffer is applied to Pebble in groups (samples.go), one Pebble commit for
// up to 256 samples: by the call that fills a group, by the Store's flusher
// goroutine every 50 ms (started by Open, stopped by Close), and by the
// committer before each group of commits it applies, so that a sample never
// lands after a commit submitted after it (a monitor's deletion would leave
// it behind). Each sample is still atomic; reads of samples (ResponseTimes,
// AllMonitors) apply the buffer first, so a sample is readable at once. An
// applied group is durable with the next sync: any commit's, or the
// flusher's when none came for a second. So a kill -9 loses at most the
// samples of the last flush interval that no commit carried, and a power cut
// at most about a second of samples. FlushSamples, and Close, apply and sync
// what is buffered.
//
// # Key layout
//
// Keys are binary, with a one-byte prefix; ids are the 16 raw bytes of the
// UUID and numbers are big-endian, so iteration order is the useful order.
//
//	prefix  key after the prefix               value
//	'm'     name                               store metadata ("format" → uvarint 1)
//	'p'     project id (16)                    Project (CBOR)
//	'k'     key SHA-256 (32)                   project id (16) + Role (1)
//	'K'     ping key (string)                  project id (16)
//	'c'     check id (16)                      Check (CBOR)
//	'P'     project id (16) check id (16)      empty: the project's checks, in id order
//	's'     project id (16) slug 0x00 id (16)  empty: slug index (slugs hold no NUL)
//	'N'     project id (16) name 0x00 id (16)  empty: name index (dialects.go)
//	'n'     project id (16) number (8) id (16) empty: CheckNumber index (dialects.go)
//	'C'     project id (16) created (8) id     empty: creation order (lookup.go)
//	'T'     project id (16) tag 0x00 id (16)   empty: one per tag (lookup.go)
//	'g'     project id (16) tags 0x00 created (8) id  empty: tags as written (lookup.go)
//	'd'     project id (16) grace simple timeout created id  empty: durations (lookup.go)
//	'u'     project id (16) unique key (8) id  empty: read-only unique_key (lookup.go)
//	'l'     check id (16) n (8)                Ping without body (CBOR): the ping log
//	'b'     check id (16) n (8)                ping body, raw bytes (only if non-empty)
//	'f'     check id (16) time (8) seq (4)     Flip (CBOR)
//	'h'     project id (16) channel id (16)    Channel (CBOR; notify.go)
//	'o'     check id (16) notification id (16) Notification with its attempts (CBOR)
//	'q'     notification id (16)               check id (16): the outbox (pending only)
//	'M'     monitor id (16)                    Monitor (CBOR; monitors.go)
//	'S'     monitor id (16)                    its state since its last probe (CBOR)
//	'G'     project id (16) monitor id (16)    empty: the project's monitors
//	'R'     monitor id (16) n (8)              ResponseTime (CBOR)
//	'I'     monitor id (16) start (8)          Incident (CBOR)
//	'r'     shard (4) index (8)                raft log entry (cluster; raftlog's bytes)
//	'H'     shard (4)                          raft hard and conf state (cluster)
//	'A'     shard (4)                          raft applied position (cluster)
//	0x01    (none)                             install record of the last state ingested (load.go)
//	0xC0+i  a key above but 'm', 'r', 'H', 'A'  that key in key space i (0 ≤ i < 64; space.go)
//
// A key space is a store of its own whose every key is the root's with one
// more byte in front, SpacePrefix(i) = 0xC0+i (64 of them), above every
// prefix the root uses. A cluster node runs one engine per virtual shard,
// each over a space of the node's one database: so a shard's state is one
// contiguous span of keys (SpaceSpan), which a raft snapshot of that shard
// moves whole and without a key of another shard, and every shard shares
// one WAL, so one fsync serves the commits of all of them and the raft log's
// appends. What is the database's stays at the root, unprefixed: the format
// and lookup-index markers, the raft log and state ('r', 'H', 'A'), the
// cluster members. The prefix is added and stripped where keys meet Pebble
// (Batch's writes, the point reads, the iterators, View), so every key
// builder and parser here is the same in a space; a space has its own
// committer and sample buffer, and the root's Close closes it.
//
// Flip time is Unix nanoseconds with the sign bit flipped (so it sorts as a
// signed number); seq is a per-process counter that keeps flips with equal
// times apart and in insertion order. Retention writes point deletes of entry
// N-PingLogLimit with each ping N, and of its body unless the record's
// NoBodyFrom shows it had none (most checks never send one). Deleting a check is point
// deletes of its 'c', 'P', 's', 'N', 'n' and lookup keys and of every stored
// key under its id in 'l', 'b', 'f', 'o' and 'I' (its 'q' entries are dropped
// by the outbox); retention of response times is point deletes too, and of
// incidents a periodic pass (PruneIncidents) of point deletes, not a lookup
// per flip. They are not range deletions because each one added to the memtable
// makes the next read re-fragment all of them (Batch.delKeys). Deleting a
// project, which is rare and large, is, for each of its checks, the 'c' delete
// and range deletions under its id, then its 'p' and 'k'/'K' entries and range
// deletions of its 'P', 's', 'h', 'N', 'n' and lookup keys — one batch, one
// sync.
//
// Records are CBOR maps keyed by the integers of the cbor tags in records.go;
// times are encoded as int64 Unix nanoseconds (exact, and cheap to decode)
// and come back in UTC; see codec.go. The records written on the hot paths (a
// check without dialect fields, a ping entry, a flip) are encoded by hand
// (fastencode.go) into the very bytes the library would write, which a table
// test and a fuzz test compare; the library encodes everything else.
//
// # Group commit
//
// The Store owns one committer goroutine (started by Open, stopped by Close
// after it has drained its queue). Commit and CommitAsync append the batch to
// a queue and, if the queue was empty, wake the committer. The committer
// takes everything queued (at most MaxBatch batches), merges the batches into
// one Pebble batch (a single batch is applied as is), applies it with
// pebble.Sync — one WAL write and one fsync for the group — and then completes
// the batches in queue order: it wakes each Commit and calls each
// CommitAsync's done. While it syncs, new commits queue up and form the next
// group, so the group size adapts to the load with no timer: an idle store
// commits a lone batch at once, and a busy one pays one fsync per group.
// After completing a group the committer yields once (runtime.Gosched, not a
// sleep) so that the goroutines it just woke, which sit on its P, can queue
// their next batches: ~28% fewer syncs per commit at 64 goroutines, and
// nothing when idle. Stats reports Commits, Syncs (one per group that wrote
// something), BatchedOps and the largest group.
//
// Why this and not the alternatives (all three were built and measured with
// BenchmarkCommitParallel, 64 goroutines, 2 cores, ~0.35 ms fsync, before the
// yield was added):
//   - merged batch, Apply(Sync) (this design): ≈ 55,000 commits/s, 0.032
//     syncs per commit;
//   - each caller applies its batch with NoSync (memtable inserts in
//     parallel) and the committer makes them durable with one
//     LogData(nil, Sync): ≈ 48,000 commits/s — more trips through Pebble's
//     commit pipeline cost more than the parallel inserts save;
//   - pipelined, ApplyNoSyncWait and a second goroutine for SyncWait (what
//     relying on Pebble's own sync coalescing amounts to): ≈ 25,000–35,000
//     commits/s — groups get smaller and more fsyncs are issued.
//
// The merged batch is also the simplest: one goroutine, ordering for free, an
// exact sync count, and a group is atomic as a whole (a failed Apply fails
// every batch of its group; an encoding error fails only its own batch).
// With one committer the limit is the fsync latency: throughput is about
// group size / fsync time, and the group is bounded by the number of
// concurrent committers (engine actors should use CommitAsync, which does not
// hold a goroutine per commit).
//
// # Restart
//
// AllChecks walks the 'c' keys on one goroutine, decodes chunks of values on
// GOMAXPROCS goroutines, and calls fn sequentially, in id order, on the
// caller's goroutine. Check records are decoded by a hand-written fast path
// (fastdecode.go: ~0.3 µs and one allocation per check, against ~1 µs and
// eight through the library) that falls back to fxamacker/cbor for anything
// it does not expect. 1M checks (BenchmarkAllChecks, 2 shared cores):
// ≈ 1.0–1.3 s, up to ≈ 1.8–2.9 s while neighbours load the machine.
package store
