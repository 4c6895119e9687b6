package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// spaceIDs are the ids a test writes into several stores at once, so that a
// store seeing another's keys would find them under the ids it asks for.
type spaceIDs struct {
	project, monitor, channel uuid.UUID
	checks, notifs            [3]uuid.UUID
	pingKey                   string
	apiKey                    [32]byte
}

func newSpaceIDs() spaceIDs {
	id := spaceIDs{project: uuid.New(), monitor: uuid.New(), channel: uuid.New(), pingKey: "pk-" + uuid.NewString()}
	for i := range id.checks {
		id.checks[i] = uuid.New()
		id.notifs[i] = uuid.Must(uuid.NewV7())
	}
	id.apiKey[0] = 7
	copy(id.apiKey[1:], id.project[:])
	return id
}

var spaceTags = []string{"root", "one", "two", "stale", "edge"}

func spaceT(t *testing.T, root *Store, id int, o SpaceOptions) *Store {
	t.Helper()
	sp, err := root.Space(id, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sp.Close(); err != nil {
			t.Error(err)
		}
	})
	return sp
}

// fillAs writes into s the project of id and n of its checks, everything
// named tag: each check with n pings (with a body), n flips, n incidents
// and a pending notification, and a channel and a monitor with n response
// times. Different stores get different n, so that counts tell them apart.
func fillAs(t *testing.T, s *Store, id spaceIDs, tag string, n int) {
	t.Helper()
	commitT(t, s, func(b *Batch) {
		b.PutProject(&Project{ID: id.project, Name: tag, Created: t0, PingKey: id.pingKey, APIKeyHash: id.apiKey})
		b.PutChannel(&Channel{ID: id.channel, ProjectID: id.project, Name: tag, Kind: "webhook", Created: t0})
		b.PutMonitor(&Monitor{ID: id.monitor, ProjectID: id.project, Attrs: []byte(tag), Created: t0,
			MonitorState: MonitorState{Status: "up"}})
		for i := range n {
			c := testCheck(id.project, i)
			c.ID, c.Name, c.Slug, c.Tags = id.checks[i], tag, tag, tag
			c.Created = t0.Add(time.Duration(i) * time.Second)
			for k := 1; k <= n; k++ {
				b.AppendPing(c, &Ping{N: uint64(k), Kind: "success", Time: t0, Body: []byte(tag)})
				b.AddFlip(c.ID, Flip{Time: t0.Add(time.Duration(k) * time.Second), From: "up", To: tag})
				b.PutIncident(c.ID, &Incident{Start: t0.Add(time.Duration(k) * time.Minute),
					End: t0.Add(time.Duration(k)*time.Minute + time.Second), Cause: tag})
			}
			c.NPings = uint64(n)
			b.PutCheck(nil, c)
			b.PutNotification(&Notification{ID: id.notifs[i], CheckID: c.ID, ProjectID: id.project,
				ChannelID: id.channel, Event: "down", Created: t0, FlipAt: t0, State: NotifyPending,
				Check: NotifiedCheck{Name: tag}})
		}
		for k := 1; k <= n; k++ {
			b.AddResponseTime(id.monitor, &ResponseTime{N: uint64(k), At: t0.Add(time.Duration(k) * time.Second), Region: tag})
		}
	})
}

// verifyAs checks that s holds exactly what fillAs(s, id, tag, n) wrote, and
// nothing another store wrote under the same ids.
func verifyAs(t *testing.T, s *Store, id spaceIDs, tag string, n int) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: %s", tag, fmt.Sprintf(format, args...))
	}
	if p, err := s.GetProject(id.project); err != nil || p.Name != tag {
		fail("project: %+v, %v", p, err)
	}
	if ps, err := s.Projects(); err != nil || len(ps) != 1 || ps[0].Name != tag {
		fail("projects: %d, %v", len(ps), err)
	}
	if pid, _, err := s.LookupKey(id.apiKey); err != nil || pid != id.project {
		fail("LookupKey: %v, %v", pid, err)
	}
	if pid, err := s.LookupPingKey(id.pingKey); err != nil || pid != id.project {
		fail("LookupPingKey: %v, %v", pid, err)
	}
	all := 0
	if err := s.AllChecks(func(c *Check) error {
		all++
		if c.Name != tag {
			fail("AllChecks: a check named %q", c.Name)
		}
		return nil
	}); err != nil || all != n {
		fail("AllChecks: %d checks, %v; want %d", all, err, n)
	}
	proj := 0
	if err := s.ProjectChecks(id.project, func(c *Check) error { proj++; return nil }); err != nil || proj != n {
		fail("ProjectChecks: %d, %v", proj, err)
	}
	for i, cid := range id.checks {
		c, err := s.GetCheck(cid)
		if i >= n {
			if !errors.Is(err, ErrNotFound) {
				fail("check %d (another store's): %+v, %v", i, c, err)
			}
			if ps, _ := s.Pings(cid, 0); len(ps) != 0 {
				fail("check %d (another store's): %d pings", i, len(ps))
			}
			continue
		}
		if err != nil || c.Name != tag {
			fail("check %d: %+v, %v", i, c, err)
			continue
		}
		if ps, err := s.Pings(cid, 0); err != nil || len(ps) != n {
			fail("check %d: %d pings, %v", i, len(ps), err)
		}
		if body, err := s.PingBody(cid, 1); err != nil || string(body) != tag {
			fail("check %d: body %q, %v", i, body, err)
		}
		fs, err := s.Flips(cid, time.Time{}, time.Time{})
		if err != nil || len(fs) != n || fs[0].To != tag {
			fail("check %d: flips %+v, %v", i, fs, err)
		}
		in, err := s.Incidents(cid)
		if err != nil || len(in) != n || in[0].Cause != tag {
			fail("check %d: incidents %+v, %v", i, in, err)
		}
		ns, err := s.Notifications(cid, 0)
		if err != nil || len(ns) != 1 || ns[0].Check.Name != tag {
			fail("check %d: notifications %+v, %v", i, ns, err)
		}
		if ids, err := s.ChecksByNumber(id.project, CheckNumber(cid)); err != nil || len(ids) != 1 {
			fail("check %d: by number %v, %v", i, ids, err)
		}
		if ids, err := s.ChecksByUniqueKey(id.project, UniqueKey(cid)); err != nil || len(ids) != 1 {
			fail("check %d: by unique key %v, %v", i, ids, err)
		}
	}
	for _, other := range spaceTags {
		want := 0
		if other == tag {
			want = n
		}
		if ids, err := s.ChecksBySlug(id.project, other); err != nil || len(ids) != want {
			fail("slug %q: %d, %v; want %d", other, len(ids), err, want)
		}
		if ids, err := s.ChecksByName(id.project, other); err != nil || len(ids) != want {
			fail("name %q: %d, %v; want %d", other, len(ids), err, want)
		}
		tagged := 0
		if err := s.TaggedChecks(id.project, other, func(*Check) (bool, error) { tagged++; return true, nil }); err != nil || tagged != want {
			fail("tag %q: %d, %v; want %d", other, tagged, err, want)
		}
		c, err := s.FindMatch(id.project, Match{Tags: &other}, func(uuid.UUID) bool { return true })
		if want > 0 && (err != nil || c.Name != tag) || want == 0 && !errors.Is(err, ErrNotFound) {
			fail("FindMatch tags %q: %+v, %v", other, c, err)
		}
	}
	grace := time.Hour
	if c, err := s.FindMatch(id.project, Match{Grace: &grace}, func(uuid.UUID) bool { return true }); err != nil || c.Name != tag {
		fail("FindMatch grace: %+v, %v", c, err)
	}
	created := 0
	if err := s.CreatedChecks(id.project, 0, func(*Check) (bool, error) { created++; return true, nil }); err != nil || created != n {
		fail("CreatedChecks: %d, %v", created, err)
	}
	out := 0
	if err := s.Outbox(func(_ uuid.UUID, nt *Notification) error {
		out++
		if nt == nil || nt.Check.Name != tag {
			fail("outbox: %+v", nt)
		}
		return nil
	}); err != nil || out != n {
		fail("outbox: %d, %v", out, err)
	}
	if chs, err := s.AllChannels(); err != nil || len(chs) != 1 || chs[0].Name != tag {
		fail("channels: %+v, %v", chs, err)
	}
	mons := 0
	if err := s.AllMonitors(func(m *Monitor) error {
		mons++
		if string(m.Attrs) != tag || m.NResponses != uint64(n) {
			fail("monitor: attrs %q, %d responses", m.Attrs, m.NResponses)
		}
		return nil
	}); err != nil || mons != 1 {
		fail("monitors: %d, %v", mons, err)
	}
	if rts, err := s.ResponseTimes(id.monitor, 0); err != nil || len(rts) != n || rts[0].Region != tag {
		fail("response times: %+v, %v", rts, err)
	}
}

// rawKeys is every key of root's database but the root's metadata, as
// Pebble stores it.
func rawKeys(t *testing.T, root *Store) [][]byte {
	t.Helper()
	it, err := root.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		if it.Key()[0] != pfxMeta {
			keys = append(keys, bytes.Clone(it.Key()))
		}
	}
	return keys
}

// spaceKeys is every key of space id in root's database, without the prefix.
func spaceKeys(t *testing.T, root *Store, id int) []string {
	t.Helper()
	var out []string
	for _, k := range rawKeys(t, root) {
		if k[0] == SpacePrefix(id) {
			out = append(out, fmt.Sprintf("%x", k[1:]))
		}
	}
	return out
}

// countSpace is how many of keys are space id's.
func countSpace(keys [][]byte, id int) int {
	n := 0
	for _, k := range keys {
		if k[0] == SpacePrefix(id) {
			n++
		}
	}
	return n
}

// Two spaces and the root share ids and see only their own records, through
// every read; deleting in one leaves the others as they were.
func TestSpacesAreIsolated(t *testing.T) {
	root := openT(t, Options{})
	one, two := spaceT(t, root, 1, SpaceOptions{}), spaceT(t, root, 2, SpaceOptions{})
	id := newSpaceIDs()
	fillAs(t, root, id, "root", 1)
	fillAs(t, one, id, "one", 2)
	fillAs(t, two, id, "two", 3)
	verifyAs(t, root, id, "root", 1)
	verifyAs(t, one, id, "one", 2)
	verifyAs(t, two, id, "two", 3)

	// Every key of a space is under its prefix, and the root's are where
	// they always were: below every space.
	keys := rawKeys(t, root)
	for _, k := range keys {
		if k[0] >= spaceBase && k[0] != SpacePrefix(1) && k[0] != SpacePrefix(2) {
			t.Fatalf("key %x under no open space", k)
		}
	}
	n1, n2 := countSpace(keys, 1), countSpace(keys, 2)
	if n1 == 0 || n2 <= n1 || len(keys)-n1-n2 == 0 {
		t.Fatalf("keys: root %d, space 1 %d, space 2 %d", len(keys)-n1-n2, n1, n2)
	}

	// A deleted check and a deleted project go from their space only.
	c, err := two.GetCheck(id.checks[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := two.DeleteCheck(c); err != nil {
		t.Fatal(err)
	}
	if _, err := two.GetCheck(id.checks[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted check: %v", err)
	}
	if err := one.DeleteProject(id.project); err != nil {
		t.Fatal(err)
	}
	verifyAs(t, root, id, "root", 1)
	if _, err := one.GetProject(id.project); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted project: %v", err)
	}
	if all := checkNames(t, one); len(all) != 0 {
		t.Fatalf("checks left in the deleted project: %v", all)
	}
	if all := checkNames(t, two); len(all) != 2 {
		t.Fatalf("space 2 after the deletions: %v", all)
	}
	for _, cid := range id.checks[1:] {
		if c, err := two.GetCheck(cid); err != nil || c.Name != "two" {
			t.Fatalf("space 2 lost check %s: %v", cid, err)
		}
	}
	if ps, err := two.Pings(id.checks[1], 0); err != nil || len(ps) != 3 {
		t.Fatalf("space 2 pings: %d, %v", len(ps), err)
	}
	// What is left of space 1 is its monitor (not the project's to delete:
	// monitors go by DeleteMonitor) and the outbox entries, which the
	// outbox drops when it finds their log gone.
	for _, k := range rawKeys(t, root) {
		if k[0] == SpacePrefix(1) && k[1] != pfxMonitor && k[1] != pfxMonState && k[1] != pfxResponse && k[1] != pfxOutbox {
			t.Errorf("space 1 key %c %x left by DeleteProject", k[1], k[2:])
		}
	}
	// Retention of incidents runs per space.
	if n, err := two.PruneIncidents(t0.Add(time.Hour)); err != nil || n != 2*3 {
		t.Fatalf("pruned %d incidents in space 2, %v; want 6", n, err)
	}
	for _, cid := range id.checks[1:] {
		if in, err := two.Incidents(cid); err != nil || len(in) != 0 {
			t.Fatalf("space 2 incidents after its prune: %+v, %v", in, err)
		}
	}
	if in, _ := root.Incidents(id.checks[0]); len(in) != 1 {
		t.Fatalf("root incidents after space 2's prune: %v", in)
	}
}

// The ping log's retention (PingLogLimit, the root's) and the response
// times' work in a space, and samples land there.
func TestSpaceRetentionAndSamples(t *testing.T) {
	root := openT(t, Options{PingLogLimit: 5})
	sp := spaceT(t, root, 7, SpaceOptions{})
	pid := uuid.New()
	c := testCheck(pid, 1)
	c.NPings = 0
	rootCheck := *c
	commitT(t, root, func(b *Batch) {
		b.AppendPing(&rootCheck, &Ping{N: 1, Kind: "success", Body: []byte("root")})
		b.PutCheck(nil, &rootCheck)
	})
	for n := uint64(1); n <= 12; n++ {
		commitT(t, sp, func(b *Batch) {
			c.NPings = n
			var body []byte
			if n%3 == 0 {
				body = []byte("body")
			}
			b.AppendPing(c, &Ping{N: n, Kind: "success", Time: t0, Body: body})
			b.PutCheck(nil, c)
		})
	}
	ps, err := sp.Pings(c.ID, 0)
	if err != nil || len(ps) != 5 || ps[0].N != 12 || ps[4].N != 8 {
		t.Fatalf("space pings: %+v, %v", ps, err)
	}
	var log, bodies int
	for _, k := range rawKeys(t, root) {
		if k[0] == SpacePrefix(7) && k[1] == pfxPing {
			log++
		}
		if k[0] == SpacePrefix(7) && k[1] == pfxBody {
			bodies++
		}
	}
	if log != 5 || bodies != 2 { // bodies of pings 9 and 12
		t.Fatalf("space 7 stores %d log entries and %d bodies, want 5 and 2", log, bodies)
	}
	if ps, err := root.Pings(c.ID, 0); err != nil || len(ps) != 1 {
		t.Fatalf("root pings: %+v, %v", ps, err)
	}

	// Samples: buffered, then applied by FlushSamples, into the space.
	mon := uuid.New()
	for n := uint64(1); n <= 10; n++ {
		b := sp.NewBatch()
		b.AddResponseTime(mon, &ResponseTime{N: n, At: t0.Add(time.Duration(n) * time.Second)})
		if err := sp.ApplySample(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.FlushSamples(); err != nil {
		t.Fatal(err)
	}
	if n := storedSamples(t, sp, mon); n != 10 {
		t.Fatalf("%d samples stored in the space, want 10", n)
	}
	if n := storedSamples(t, root, mon); n != 0 {
		t.Fatalf("%d of the space's samples seen by the root", n)
	}
	responses := 0
	for _, k := range rawKeys(t, root) {
		if k[0] == SpacePrefix(7) && k[1] == pfxResponse {
			responses++
		}
	}
	if responses != 10 {
		t.Fatalf("%d response-time keys under space 7's prefix, want 10", responses)
	}
	if st := sp.Stats(); st.Samples != 10 || st.SampleGroups == 0 {
		t.Fatalf("space stats: %+v", st)
	}
	if st := root.Stats(); st.Samples != 0 || st.Commits != 1 {
		t.Fatalf("root stats count the space's work: %+v", st)
	}
	// Retention of response times (delKeys, through the space's iterator):
	// at N = 1088, a multiple of responsePrune, the newest ResponseLimit.
	for n := uint64(11); n <= 17*responsePrune; n++ {
		b := sp.NewBatch()
		b.AddResponseTime(mon, &ResponseTime{N: n, At: t0})
		if err := sp.ApplySample(b); err != nil {
			t.Fatal(err)
		}
		if n%responsePrune == responsePrune-1 {
			if err := sp.FlushSamples(); err != nil { // the prune sees what is applied
				t.Fatal(err)
			}
		}
	}
	if err := sp.FlushSamples(); err != nil {
		t.Fatal(err)
	}
	if n := storedSamples(t, sp, mon); n != ResponseLimit {
		t.Fatalf("%d response times kept in the space, want %d", n, ResponseLimit)
	}
}

// A replicated space hands its prefixed writes to Replicate; the root
// applying them, as the raft log does, writes into the space.
func TestSpaceReplicate(t *testing.T) {
	root := openT(t, Options{})
	const id = 3
	var mu sync.Mutex
	var reprs [][]byte
	sp := spaceT(t, root, id, SpaceOptions{Replicate: func(repr []byte, done func(error)) {
		mu.Lock()
		reprs = append(reprs, repr)
		mu.Unlock()
		b := root.NewBatch()
		if err := b.AppendRepr(repr); err != nil {
			b.Discard()
			done(err)
			return
		}
		done(root.ApplyLocal(b))
	}})
	ids := newSpaceIDs()
	fillAs(t, sp, ids, "one", 2)
	async := make(chan error, 1)
	b := sp.NewBatch()
	b.PutChannel(&Channel{ID: uuid.New(), ProjectID: uuid.New(), Name: "async", Kind: "email", Created: t0})
	sp.CommitAsync(b, func(err error) { async <- err })
	if err := <-async; err != nil {
		t.Fatal(err)
	}
	sample := sp.NewBatch()
	sample.AddResponseTime(ids.monitor, &ResponseTime{N: 3, At: t0.Add(3 * time.Second), Region: "one"})
	if err := sp.ApplySample(sample); err != nil {
		t.Fatal(err)
	}
	if err := sp.FlushSamples(); err != nil {
		t.Fatal(err)
	}
	if rts, err := sp.ResponseTimes(ids.monitor, 0); err != nil || len(rts) != 3 {
		t.Fatalf("response times: %d, %v", len(rts), err)
	}
	if chs, err := sp.AllChannels(); err != nil || len(chs) != 2 {
		t.Fatalf("channels: %+v, %v", chs, err)
	}
	if err := sp.DeleteCheck(&Check{ID: ids.checks[1], ProjectID: ids.project}); err != nil {
		t.Fatal(err)
	}
	if all := checkNames(t, sp); len(all) != 1 {
		t.Fatalf("checks after a replicated delete: %v", all)
	}
	if st := sp.Stats(); st.Syncs != 0 || st.Commits != 0 {
		t.Fatalf("a replicated space committed locally: %+v", st)
	}

	// Every write the space proposed, and so every key the root holds, is
	// under the space's prefix.
	mu.Lock()
	defer mu.Unlock()
	if len(reprs) < 4 {
		t.Fatalf("%d proposals, want the fill, the async commit, the samples and the delete", len(reprs))
	}
	for i, repr := range reprs {
		pb := root.db.NewBatch()
		if err := pb.SetRepr(repr); err != nil {
			t.Fatal(err)
		}
		r := pb.Reader()
		for {
			_, k, _, ok, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if len(k) < 2 || k[0] != SpacePrefix(id) {
				t.Fatalf("proposal %d writes key %x, outside space %d", i, k, id)
			}
		}
		pb.Close()
	}
	keys := rawKeys(t, root)
	if len(keys) == 0 {
		t.Fatal("nothing committed")
	}
	for _, k := range keys {
		if k[0] != SpacePrefix(id) {
			t.Fatalf("committed key %x outside space %d", k, id)
		}
	}
	if _, err := root.GetProject(ids.project); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the root sees the space's project: %v", err)
	}
}

// writeState is s's view's state stream of [lo, hi).
func writeState(t *testing.T, s *Store, lo, hi []byte) []byte {
	t.Helper()
	v, err := s.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var buf bytes.Buffer
	if err := v.WriteState(&buf, lo, hi); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readState installs a state stream of [lo, hi) in s.
func readState(t *testing.T, s *Store, stream, lo, hi []byte) {
	t.Helper()
	b := s.NewBatch()
	if err := b.ReadState(bytes.NewReader(stream), lo, hi); err != nil {
		b.Discard()
		t.Fatal(err)
	}
	if err := s.CommitLocal(b); err != nil {
		t.Fatal(err)
	}
}

// streamKeys is the keys of a state stream.
func streamKeys(t *testing.T, stream []byte) [][]byte {
	t.Helper()
	var keys [][]byte
	r := bytes.NewReader(stream)
	for {
		kl, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatal(err)
		}
		if kl == 0 {
			return keys
		}
		k := make([]byte, kl)
		if _, err := io.ReadFull(r, k); err != nil {
			t.Fatal(err)
		}
		vl, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Seek(int64(vl), io.SeekCurrent); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
}

// A root snapshot of SpaceSpan(i) moves exactly space i: the other spaces,
// the root's state and its raft keys stay as they were on the receiver.
func TestSpaceSnapshot(t *testing.T) {
	src := openT(t, Options{})
	id, other := newSpaceIDs(), newSpaceIDs()
	fillAs(t, src, id, "root", 1)
	srcOne := spaceT(t, src, 1, SpaceOptions{})
	fillAs(t, srcOne, id, "one", 2)
	fillAs(t, spaceT(t, src, 2, SpaceOptions{}), id, "two", 3)
	fillAs(t, spaceT(t, src, 63, SpaceOptions{}), id, "edge", 2)
	commitT(t, src, func(b *Batch) { b.PutRaftApplied(1, []byte("src")) })

	for _, space := range []int{1, 63} {
		t.Run(fmt.Sprint("space=", space), func(t *testing.T) {
			lo, hi := SpaceSpan(space)
			if sp := stateSpans(lo, hi); len(sp) != 1 || !bytes.Equal(sp[0][0], lo) || !bytes.Equal(sp[0][1], hi) {
				t.Fatalf("stateSpans(SpaceSpan(%d)) = %q", space, sp)
			}
			stream := writeState(t, src, lo, hi)
			keys := streamKeys(t, stream)
			if len(keys) != countSpace(rawKeys(t, src), space) {
				t.Fatalf("stream of %d keys, space %d has %d", len(keys), space, countSpace(rawKeys(t, src), space))
			}
			for _, k := range keys {
				if k[0] != SpacePrefix(space) {
					t.Fatalf("stream of space %d holds key %x", space, k)
				}
			}

			dst := openT(t, Options{})
			fillAs(t, dst, other, "root", 1)
			target := spaceT(t, dst, space, SpaceOptions{})
			fillAs(t, target, other, "stale", 3) // replaced by the install
			neighbour := 2
			if space == 63 {
				neighbour = 62
			}
			fillAs(t, spaceT(t, dst, neighbour, SpaceOptions{}), other, "two", 2)
			commitT(t, dst, func(b *Batch) { b.PutRaftApplied(1, []byte("dst")) })
			readState(t, dst, stream, lo, hi)

			tag := map[int]string{1: "one", 63: "edge"}[space]
			verifyAs(t, target, id, tag, 2)
			if got, want := spaceKeys(t, dst, space), spaceKeys(t, src, space); !slices.Equal(got, want) {
				t.Fatalf("space %d after the install: %d keys, want the source's %d", space, len(got), len(want))
			}
			if _, err := target.GetProject(other.project); !errors.Is(err, ErrNotFound) {
				t.Fatalf("the space's own project survived the install: %v", err)
			}
			verifyAs(t, dst, other, "root", 1)
			if a, _ := dst.RaftApplied(1); string(a) != "dst" {
				t.Fatalf("raft applied = %q: the install must keep the node's own", a)
			}
			for _, k := range rawKeys(t, dst) {
				if k[0] >= spaceBase && k[0] != SpacePrefix(space) && k[0] != SpacePrefix(neighbour) {
					t.Fatalf("key %x after the install", k)
				}
			}
			if n := countSpace(rawKeys(t, dst), neighbour); n == 0 {
				t.Fatal("the install removed the neighbouring space")
			}
		})
	}

	// The root's whole state (nil bounds) carries every space, the last
	// (0xFF) included, and replaces the receiver's.
	t.Run("whole", func(t *testing.T) {
		dst := openT(t, Options{})
		last := spaceT(t, dst, 63, SpaceOptions{})
		fillAs(t, last, other, "stale", 3)
		readState(t, dst, writeState(t, src, nil, nil), nil, nil)
		verifyAs(t, spaceT(t, dst, 2, SpaceOptions{}), id, "two", 3)
		verifyAs(t, last, id, "edge", 2)
		if got, want := spaceKeys(t, dst, 63), spaceKeys(t, src, 63); !slices.Equal(got, want) {
			t.Fatalf("space 63 after the install: %d keys, want the source's %d", len(got), len(want))
		}
		verifyAs(t, dst, id, "root", 1)
	})

	// A space's own stream is unprefixed: it installs into any space.
	t.Run("space view", func(t *testing.T) {
		stream := writeState(t, srcOne, nil, nil)
		for _, k := range streamKeys(t, stream) {
			if k[0] >= spaceBase {
				t.Fatalf("a space's stream holds the raw key %x", k)
			}
		}
		dst := openT(t, Options{})
		five := spaceT(t, dst, 5, SpaceOptions{})
		fillAs(t, five, other, "stale", 3)
		fillAs(t, dst, other, "root", 1)
		readState(t, five, stream, nil, nil)
		verifyAs(t, five, id, "one", 2)
		if got, want := spaceKeys(t, dst, 5), spaceKeys(t, src, 1); !slices.Equal(got, want) {
			t.Fatalf("space 5 after the install: %d keys, want space 1's %d", len(got), len(want))
		}
		verifyAs(t, dst, other, "root", 1)
		for _, k := range rawKeys(t, dst) {
			if k[0] >= spaceBase && k[0] != SpacePrefix(5) {
				t.Fatalf("key %x outside space 5 after its install", k)
			}
		}
	})
}

func TestSpaceErrors(t *testing.T) {
	root := openT(t, Options{})
	for _, id := range []int{-1, MaxSpaces} {
		if sp, err := root.Space(id, SpaceOptions{}); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("Space(%d) = %v, %v; want out of range", id, sp, err)
		}
	}
	one := spaceT(t, root, 1, SpaceOptions{})
	if _, err := one.Space(2, SpaceOptions{}); err == nil || !strings.Contains(err.Error(), "do not nest") {
		t.Fatalf("Space on a space: %v", err)
	}
	if _, err := root.Space(1, SpaceOptions{}); err == nil || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("Space(1) twice: %v", err)
	}
	if id, ok := one.SpaceID(); !ok || id != 1 {
		t.Fatalf("SpaceID = %d, %v", id, ok)
	}
	if _, ok := root.SpaceID(); ok {
		t.Fatal("the root says it is a space")
	}
	if SpacePrefix(MaxSpaces) != 0 || SpacePrefix(-1) != 0 {
		t.Fatal("SpacePrefix of an id out of range")
	}
	if lo, hi := SpaceSpan(MaxSpaces); bytes.Compare(lo, hi) < 0 {
		t.Fatalf("SpaceSpan out of range = [%x, %x), want empty", lo, hi)
	}

	// The raft methods are the root's.
	for name, call := range map[string]func() error{
		"RaftState":      func() error { _, err := one.RaftState(0); return err },
		"RaftApplied":    func() error { _, err := one.RaftApplied(0); return err },
		"ClusterMembers": func() error { _, err := one.ClusterMembers(); return err },
		"RaftEntries": func() error {
			return one.RaftEntries(0, 0, 10, func(uint64, []byte) bool { return true })
		},
		"RaftLogBounds": func() error { _, _, _, err := one.RaftLogBounds(0); return err },
	} {
		if err := call(); !errors.Is(err, ErrRootOnly) {
			t.Errorf("%s on a space: %v", name, err)
		}
	}
	for name, write := range map[string]func(*Batch){
		"PutRaftEntry":      func(b *Batch) { b.PutRaftEntry(0, 1, []byte("e")) },
		"DeleteRaftEntries": func(b *Batch) { b.DeleteRaftEntries(0, 1, 2) },
		"PutRaftState":      func(b *Batch) { b.PutRaftState(0, []byte("s")) },
		"PutRaftApplied":    func(b *Batch) { b.PutRaftApplied(0, []byte("a")) },
		"PutClusterMembers": func(b *Batch) { b.PutClusterMembers([]byte("m")) },
	} {
		b := one.NewBatch()
		write(b)
		if err := one.Commit(b); !errors.Is(err, ErrRootOnly) {
			t.Errorf("%s on a space: %v", name, err)
		}
	}
	if keys := rawKeys(t, root); len(keys) != 0 {
		t.Fatalf("refused writes wrote %x", keys)
	}

	// A space takes no write of another store.
	two := spaceT(t, root, 2, SpaceOptions{})
	rootBatch := root.NewBatch()
	rootBatch.PutProject(testProject(1))
	if err := one.Commit(rootBatch); err == nil {
		t.Fatal("a space committed a root batch")
	}
	otherBatch := two.NewBatch()
	otherBatch.PutProject(testProject(2))
	repr := otherBatch.Repr()
	mine := one.NewBatch()
	if err := mine.Append(otherBatch); err == nil {
		t.Fatal("a space's batch took another space's batch")
	}
	if err := mine.AppendRepr(repr); err == nil {
		t.Fatal("a space's batch took another space's repr")
	}
	rootBatch = root.NewBatch()
	rootBatch.PutProject(testProject(3))
	if err := mine.AppendRepr(rootBatch.Repr()); err == nil {
		t.Fatal("a space's batch took a root repr")
	}
	rootBatch.Discard()
	if mine.Len() != 0 {
		t.Fatalf("refused writes left %d records", mine.Len())
	}
	mine.Discard()
	// The root takes a space's batch: it writes into that space.
	if err := root.CommitLocal(otherBatch); err != nil {
		t.Fatal(err)
	}
	if ps, err := two.Projects(); err != nil || len(ps) != 1 {
		t.Fatalf("space 2 after the root committed its batch: %d, %v", len(ps), err)
	}
	if err := two.ApplySample(root.NewBatch()); err == nil {
		t.Fatal("a space took a root sample")
	}
	if err := two.ApplyLocal(root.NewBatch()); err == nil {
		t.Fatal("a space applied a root batch")
	}
}

// Closing a space stops its own goroutines and leaves the root and the other
// spaces working; the root's Close closes the spaces still open, which keep
// what they committed.
func TestSpaceClose(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	root, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	one, err := root.Space(1, SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := root.Space(2, SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := newSpaceIDs()
	fillAs(t, one, id, "one", 2)
	if err := one.Close(); err != nil {
		t.Fatal(err)
	}
	if err := one.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := one.GetProject(id.project); !errors.Is(err, ErrClosed) {
		t.Fatalf("read on a closed space: %v", err)
	}
	if err := one.Commit(one.NewBatch()); !errors.Is(err, ErrClosed) {
		t.Fatalf("commit on a closed space: %v", err)
	}
	fillAs(t, two, id, "two", 3)
	fillAs(t, root, id, "root", 1)
	verifyAs(t, two, id, "two", 3)
	verifyAs(t, root, id, "root", 1)
	// Reopened, space 1 has what it committed.
	again, err := root.Space(1, SpaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	verifyAs(t, again, id, "one", 2)

	// Left in two's buffer and queue when the root closes.
	sample := two.NewBatch()
	sample.AddResponseTime(id.monitor, &ResponseTime{N: 4, At: t0.Add(4 * time.Second), Region: "two"})
	if err := two.ApplySample(sample); err != nil {
		t.Fatal(err)
	}
	async := two.NewBatch()
	async.PutChannel(&Channel{ID: uuid.New(), ProjectID: uuid.New(), Name: "late", Kind: "email", Created: t0})
	asyncErr := make(chan error, 1)
	two.CommitAsync(async, func(err error) { asyncErr <- err })
	if err := root.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-asyncErr; err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{root, two, again} {
		if _, err := s.Projects(); !errors.Is(err, ErrClosed) {
			t.Fatalf("read after the root's Close: %v", err)
		}
	}
	if _, err := root.Space(3, SpaceOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Space after Close: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}

	root = openT(t, Options{Dir: dir})
	two = spaceT(t, root, 2, SpaceOptions{})
	if rts, err := two.ResponseTimes(id.monitor, 0); err != nil || len(rts) != 4 {
		t.Fatalf("space 2's buffered sample after the root's Close: %d, %v", len(rts), err)
	}
	if chs, err := two.AllChannels(); err != nil || len(chs) != 2 {
		t.Fatalf("space 2's queued commit after the root's Close: %d, %v", len(chs), err)
	}
	verifyAs(t, root, id, "root", 1)
	verifyAs(t, spaceT(t, root, 1, SpaceOptions{}), id, "one", 2)
}

// Two spaces register on two registries, each with its own figures, and
// leave Pebble's (the database's) to the root.
func TestSpaceMetrics(t *testing.T) {
	root := openT(t, Options{})
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry(), prometheus.NewRegistry()}
	stores := []*Store{root, spaceT(t, root, 1, SpaceOptions{}), spaceT(t, root, 2, SpaceOptions{})}
	for i, s := range stores {
		if err := RegisterMetrics(regs[i], s); err != nil {
			t.Fatal(err)
		}
		for range i + 1 {
			commitT(t, s, func(b *Batch) { b.PutCheck(nil, testCheck(uuid.New(), i)) })
		}
	}
	for i, reg := range regs {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		pebbleSeries := 0
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "vigilo_pebble_") {
				pebbleSeries++
			}
			if mf.GetName() == "vigilo_store_commits_total" {
				if got := mf.GetMetric()[0].GetCounter().GetValue(); got != float64(i+1) {
					t.Errorf("store %d: %v commits, want %d", i, got, i+1)
				}
			}
		}
		if want := map[bool]int{true: 16, false: 0}[i == 0]; pebbleSeries != want {
			t.Errorf("store %d: %d Pebble series, want %d", i, pebbleSeries, want)
		}
		if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %+v", err, problems)
		}
	}
}

// Every prefix the root uses is below the spaces', so that the root's keys
// and each space's are apart, and a space is one span.
func TestRootPrefixesBelowSpaces(t *testing.T) {
	for _, p := range []byte{pfxMeta, pfxProject, pfxKeyHash, pfxPingKey, pfxCheck, pfxProjCheck, pfxSlug,
		pfxPing, pfxBody, pfxFlip, pfxRaftEntry, pfxRaftState, pfxRaftApplied, pfxCreated, pfxTag,
		pfxTagsText, pfxDuration, pfxReadKey, pfxName, pfxNumber, pfxMonitor, pfxMonState,
		pfxProjMonitor, pfxResponse, pfxIncident, pfxChannel, pfxNotif, pfxOutbox} {
		if p >= 0x80 {
			t.Errorf("root prefix %#x is not ASCII: keysEnd and the space spans assume it", p)
		}
	}
	for id := range MaxSpaces {
		lo, hi := SpaceSpan(id)
		if lo[0] != SpacePrefix(id) || lo[0] < spaceBase || bytes.Compare(lo, hi) >= 0 || bytes.Compare(hi, keysEnd) > 0 {
			t.Errorf("SpaceSpan(%d) = [%x, %x)", id, lo, hi)
		}
		if id > 0 {
			if _, prev := SpaceSpan(id - 1); !bytes.Equal(prev, lo) {
				t.Errorf("spaces %d and %d are not adjacent", id-1, id)
			}
		}
	}
}

// Spaces commit and sample side by side, each through its own committer into
// the one WAL, and every commit that returned is there after a reopen.
func TestSpacesConcurrent(t *testing.T) {
	dir := t.TempDir()
	root, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	const spaces, writers, each = 6, 2, 50
	var wg sync.WaitGroup
	errs := make(chan error, spaces*writers)
	sps := make([]*Store, spaces)
	pid := uuid.New() // one project id in every space
	for i := range spaces {
		if sps[i], err = root.Space(i*10, SpaceOptions{}); err != nil {
			t.Fatal(err)
		}
		for range writers {
			wg.Add(1)
			go func(sp *Store) {
				defer wg.Done()
				mon := uuid.New()
				for n := range each {
					b := sp.NewBatch()
					b.PutCheck(nil, testCheck(pid, n))
					if err := sp.Commit(b); err != nil {
						errs <- err
						return
					}
					s := sp.NewBatch()
					s.AddResponseTime(mon, &ResponseTime{N: uint64(n + 1), At: t0})
					if err := sp.ApplySample(s); err != nil {
						errs <- err
						return
					}
				}
			}(sps[i])
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, sp := range sps {
		if st := sp.Stats(); st.Commits != writers*each || st.Samples != writers*each {
			t.Errorf("space %d: %+v", i*10, st)
		}
	}
	if err := root.Close(); err != nil { // closes the spaces, applying their samples
		t.Fatal(err)
	}
	root = openT(t, Options{Dir: dir})
	for i := range spaces {
		sp := spaceT(t, root, i*10, SpaceOptions{})
		n, monitors := 0, map[string]int{}
		if err := sp.ProjectChecks(pid, func(*Check) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := sp.scan([]byte{pfxResponse}, false, func(k, _ []byte) (bool, error) {
			monitors[fmt.Sprintf("%x", k[1:17])]++
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != writers*each || len(monitors) != writers {
			t.Errorf("space %d after reopen: %d checks, %d monitors %v", i*10, n, len(monitors), monitors)
		}
		for m, c := range monitors {
			if c != each {
				t.Errorf("space %d monitor %s: %d samples, want %d", i*10, m, c, each)
			}
		}
	}
}

// A space's writes go into its batch with the prefix, without an allocation
// of their own.
func TestSpaceBatchWritesDoNotAllocate(t *testing.T) {
	root := openT(t, Options{})
	sp := spaceT(t, root, 9, SpaceOptions{})
	b := sp.NewBatch()
	defer b.Discard()
	key, end, val := []byte("c0123456789abcdef"), []byte("c0123456789abcdeg"), []byte("value")
	write := func() {
		b.pb.Reset()
		b.set(key, val)
		b.del(key)
		b.delRange(key, end)
	}
	write()
	if b.err != nil || b.Len() != 3 {
		t.Fatalf("%d records, %v", b.Len(), b.err)
	}
	r := b.pb.Reader()
	for range 3 {
		_, k, v, _, _ := r.Next()
		if k[0] != SpacePrefix(9) || !bytes.Equal(k[1:], key) {
			t.Fatalf("key %q", k)
		}
		if len(v) > 0 && !bytes.Equal(v, val) && !bytes.Equal(v, append([]byte{SpacePrefix(9)}, end...)) {
			t.Fatalf("value %q", v)
		}
	}
	if n := testing.AllocsPerRun(100, write); n != 0 {
		t.Fatalf("%v allocations per set, del and delRange", n)
	}
}

// The member directory travels with a snapshot of shard 0's span, and
// with no other: a node that joins learns its peers from shard 0's.
func TestClusterMembersInSpaceZero(t *testing.T) {
	src := openT(t, Options{Dir: t.TempDir()})
	b := src.NewBatch()
	b.PutClusterMembers([]byte(`{"1": {}}`))
	if err := src.CommitLocal(b); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{0, 1} {
		dst := openT(t, Options{Dir: t.TempDir()})
		lo, hi := SpaceSpan(id)
		readState(t, dst, writeState(t, src, lo, hi), lo, hi)
		v, err := dst.ClusterMembers()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := v != nil, id == 0; got != want {
			t.Fatalf("a snapshot of space %d carries the members: %v, want %v", id, got, want)
		}
	}
}
