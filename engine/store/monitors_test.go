package store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestMonitorRecords(t *testing.T) {
	s := openT(t, Options{})
	m := &Monitor{ID: uuid.New(), ProjectID: uuid.New(), Attrs: []byte(`{"URL":"x"}`), Created: t0,
		MonitorState: MonitorState{Status: "up"}}
	commitT(t, s, func(b *Batch) { b.PutMonitor(m) })
	// Response times: the newest ResponseLimit are kept, oldest first.
	for n := uint64(1); n <= ResponseLimit+5; n++ {
		m.NResponses = n
		commitT(t, s, func(b *Batch) {
			b.AddResponseTime(m.ID, &ResponseTime{N: n, At: t0.Add(time.Duration(n) * time.Second), Total: time.Millisecond})
		})
	}
	rts, err := s.ResponseTimes(m.ID, 0)
	if err != nil || len(rts) != ResponseLimit || rts[0].N != 6 || rts[len(rts)-1].N != ResponseLimit+5 {
		t.Fatalf("response times: %d, first %d, err %v", len(rts), rts[0].N, err)
	}
	// What is on disk: nothing pruned before N = 1024 (a multiple of
	// responsePrune), then the newest ResponseLimit (25 to 1024), plus those
	// since.
	stored := func() (n int) {
		if err := s.scan(appendID(nil, pfxResponse, m.ID), false, func([]byte, []byte) (bool, error) { n++; return true, nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := stored(); n != ResponseLimit+5 {
		t.Errorf("%d response times stored at N = %d, want all", n, ResponseLimit+5)
	}
	for n := uint64(ResponseLimit + 6); n <= 1030; n++ {
		commitT(t, s, func(b *Batch) {
			b.AddResponseTime(m.ID, &ResponseTime{N: n, At: t0.Add(time.Duration(n) * time.Second)})
		})
	}
	if n := stored(); n != ResponseLimit+6 {
		t.Errorf("%d response times stored at N = 1030, want %d", n, ResponseLimit+6)
	}
	// Incidents: writing one drops nothing; PruneIncidents drops the resolved
	// ones that started before its cutoff, of every monitor and check, and
	// keeps an open one however old.
	old := Incident{Start: t0, End: t0.Add(time.Minute), Cause: "timeout"}
	stillOpen := Incident{Start: t0.Add(2 * time.Minute), Cause: "refused"}
	recent := Incident{Start: t0.Add(IncidentRetention - time.Hour), End: t0.Add(IncidentRetention), Cause: "refused"}
	other := uuid.New()
	commitT(t, s, func(b *Batch) {
		b.PutIncident(m.ID, &old)
		b.PutIncident(m.ID, &stillOpen)
		b.PutIncident(m.ID, &recent)
		b.PutIncident(other, &old)
	})
	if ins, _ := s.Incidents(m.ID); len(ins) != 3 {
		t.Fatalf("before pruning: %+v", ins)
	}
	n, err := s.PruneIncidents(t0.Add(IncidentRetention - 2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	ins, err := s.Incidents(m.ID)
	if err != nil || len(ins) != 2 || !ins[0].Start.Equal(stillOpen.Start) || !ins[0].End.IsZero() ||
		!ins[1].Start.Equal(recent.Start) || !ins[1].End.Equal(recent.End) || ins[1].Cause != "refused" {
		t.Fatalf("after pruning: %+v %v", ins, err)
	}
	if ins, _ := s.Incidents(other); len(ins) != 0 {
		t.Fatalf("another check's expired incident kept: %+v", ins)
	}
	if n, err := s.PruneIncidents(t0.Add(IncidentRetention - 2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruned again: %d, %v", n, err)
	}
	var loaded []Monitor
	if err := s.AllMonitors(func(x *Monitor) error { loaded = append(loaded, *x); return nil }); err != nil || len(loaded) != 1 ||
		loaded[0].ID != m.ID || string(loaded[0].Attrs) != `{"URL":"x"}` {
		t.Fatalf("AllMonitors: %+v %v", loaded, err)
	}
	commitT(t, s, func(b *Batch) { b.DeleteMonitor(m) })
	if rts, _ := s.ResponseTimes(m.ID, 0); len(rts) != 0 {
		t.Errorf("response times outlive their monitor: %d", len(rts))
	}
	if ins, _ := s.Incidents(m.ID); len(ins) != 0 {
		t.Errorf("incidents outlive their monitor: %d", len(ins))
	}
}

// TestMonitorState shows a probe's state write winning over the state in the
// whole record, for every monitor loaded, and a record written before states
// had their own key loading with its own.
func TestMonitorState(t *testing.T) {
	s := openT(t, Options{})
	var ms []*Monitor
	for i := range 5 {
		m := &Monitor{ID: uuid.New(), ProjectID: uuid.New(), Attrs: []byte(`{}`),
			MonitorState: MonitorState{Status: "pending", NResponses: uint64(i)}}
		commitT(t, s, func(b *Batch) { b.PutMonitor(m) })
		ms = append(ms, m)
	}
	// Every other monitor probed since: only its state is written.
	for i, m := range ms {
		if i%2 == 0 {
			m.Status, m.LastProbe, m.NResponses, m.LastError = "down", t0.Add(time.Duration(i)*time.Second), 100+uint64(i), "refused"
			m.Attrs = []byte(`{"ignored":true}`) // not written by PutMonitorState
			commitT(t, s, func(b *Batch) { b.PutMonitorState(m) })
		}
	}
	// A record from before 'S' existed: its state only in 'M'.
	legacy := &Monitor{ID: uuid.New(), ProjectID: uuid.New(), Attrs: []byte(`{}`),
		MonitorState: MonitorState{Status: "up", NResponses: 7}}
	commitT(t, s, func(b *Batch) {
		b.PutMonitor(legacy)
		b.key = appendID(b.key[:0], pfxMonState, legacy.ID)
		b.del(b.key)
	})

	loaded := map[uuid.UUID]Monitor{}
	if err := s.AllMonitors(func(x *Monitor) error { loaded[x.ID] = *x; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(loaded) != len(ms)+1 {
		t.Fatalf("loaded %d monitors, want %d", len(loaded), len(ms)+1)
	}
	for i, m := range ms {
		got := loaded[m.ID]
		if got.Status != m.Status || got.NResponses != m.NResponses || !got.LastProbe.Equal(m.LastProbe) || got.LastError != m.LastError {
			t.Errorf("monitor %d: loaded %s/%d/%v/%q, want %s/%d/%v/%q", i, got.Status, got.NResponses, got.LastProbe, got.LastError,
				m.Status, m.NResponses, m.LastProbe, m.LastError)
		}
		if string(got.Attrs) != `{}` {
			t.Errorf("monitor %d: attrs %s, want those of its last PutMonitor", i, got.Attrs)
		}
	}
	if got := loaded[legacy.ID]; got.Status != "up" || got.NResponses != 7 {
		t.Errorf("legacy monitor: %s/%d, want up/7 from its record", got.Status, got.NResponses)
	}

	// Probes that wrote only their response times: the newest one's number
	// and time come back, not those of the older state.
	m := ms[1]
	for n := m.NResponses + 1; n <= m.NResponses+3; n++ {
		commitT(t, s, func(b *Batch) {
			b.AddResponseTime(m.ID, &ResponseTime{N: n, At: t0.Add(time.Duration(n) * time.Minute), Up: true})
		})
	}
	// A response time older than the state (its state written after) does not
	// take it back.
	commitT(t, s, func(b *Batch) { b.AddResponseTime(ms[0].ID, &ResponseTime{N: 1, At: t0}) })
	loaded = map[uuid.UUID]Monitor{}
	if err := s.AllMonitors(func(x *Monitor) error { loaded[x.ID] = *x; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := loaded[m.ID], m.NResponses+3; got.NResponses != want || !got.LastProbe.Equal(t0.Add(time.Duration(want)*time.Minute)) {
		t.Errorf("after response times only: NResponses %d, LastProbe %v; want %d and that probe's start", got.NResponses, got.LastProbe, want)
	}
	if got := loaded[ms[0].ID]; got.NResponses != ms[0].NResponses || !got.LastProbe.Equal(ms[0].LastProbe) {
		t.Errorf("an older response time rolled the state back: %d %v", got.NResponses, got.LastProbe)
	}

	commitT(t, s, func(b *Batch) { b.DeleteMonitor(ms[0]) })
	if err := s.get(appendID(nil, pfxMonState, ms[0].ID), func([]byte) error { return nil }); err != ErrNotFound {
		t.Errorf("state of a deleted monitor: %v, want ErrNotFound", err)
	}
}

// BenchmarkMonitorStateBatch is what a probe's result writes, the state alone
// against the whole record it used to rewrite.
func BenchmarkMonitorStateBatch(b *testing.B) {
	s := openT(b, Options{})
	m := &Monitor{ID: uuid.New(), ProjectID: uuid.New(), Attrs: make([]byte, 1100),
		MonitorState: MonitorState{Status: "up", LastProbe: t0, Next: t0, NResponses: 42}}
	for _, c := range []struct {
		name string
		put  func(*Batch, *Monitor)
	}{{"state", (*Batch).PutMonitorState}, {"whole", (*Batch).PutMonitor}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var bytes int
			for b.Loop() {
				bt := s.NewBatch()
				c.put(bt, m)
				bytes = len(bt.pb.Repr())
				bt.Discard()
			}
			b.ReportMetric(float64(bytes), "batch-bytes")
		})
	}
}

// TestApplySample: samples are readable at once and counted, refused after
// Close, and survive a kill -9 both alone once FlushSamples has returned, and
// buffered then carried by a Commit (the committer applies them before its
// group, and its sync makes them durable).
func TestApplySample(t *testing.T) {
	id := uuid.MustParse("0d6f4b9e-6f2e-4d55-9a61-3f1c2b7d8e90")
	const n = 50
	if dir := os.Getenv("VIGILO_SAMPLE_DIR"); dir != "" {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		for i := uint64(1); i <= n; i++ {
			b := s.NewBatch()
			b.AddResponseTime(id, &ResponseTime{N: i, At: t0.Add(time.Duration(i) * time.Second)})
			if err := s.ApplySample(b); err != nil {
				fmt.Println(err)
				os.Exit(1)
			}
			if i == 1 {
				if err := s.FlushSamples(); err != nil {
					fmt.Println(err)
					os.Exit(1)
				}
				fmt.Println("first") // applied and synced
				bufio.NewReader(os.Stdin).ReadString('\n')
			}
		}
		// Samples 2 to n are buffered (or some applied by the flusher,
		// maybe without a sync): the Commit must carry them all.
		b := s.NewBatch()
		b.PutIncident(id, &Incident{Start: t0})
		if err := s.Commit(b); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("ready")
		select {} // killed here
	}

	count := func(dir string) int {
		s := openT(t, Options{Dir: dir})
		rts, err := s.ResponseTimes(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(rts)
	}
	// Killed after the first sample, then after the later Commit.
	for _, stage := range []string{"first", "ready"} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestApplySample$")
		cmd.Env = append(os.Environ(), "VIGILO_SAMPLE_DIR="+dir)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out := bufio.NewReader(stdout)
		line, err := out.ReadString('\n')
		if stage == "ready" && err == nil {
			io.WriteString(stdin, "go on\n")
			line, err = out.ReadString('\n')
		}
		cmd.Process.Kill()
		cmd.Wait()
		if err != nil || line != stage+"\n" {
			t.Fatalf("helper said %q, %v; want %q", line, err, stage)
		}
		want := 1
		if stage == "ready" {
			want = n
		}
		if got := count(dir); got != want {
			t.Errorf("killed at %s: %d samples after reopening, want %d", stage, got, want)
		}
	}

	s := openT(t, Options{})
	b := s.NewBatch()
	b.AddResponseTime(id, &ResponseTime{N: 1, At: t0})
	if err := s.ApplySample(b); err != nil {
		t.Fatal(err)
	}
	if rts, err := s.ResponseTimes(id, 0); err != nil || len(rts) != 1 {
		t.Fatalf("read back: %v %v", rts, err)
	}
	if st := s.Stats(); st.Samples != 1 {
		t.Errorf("Stats.Samples = %d, want 1", st.Samples)
	}
	s.Close()
	if err := s.ApplySample(s.NewBatch()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if err := s.FlushSamples(); !errors.Is(err, ErrClosed) {
		t.Errorf("FlushSamples after Close: %v, want ErrClosed", err)
	}
}

// TestPruneIncidentsInBatches prunes more than one commit's worth.
func TestPruneIncidentsInBatches(t *testing.T) {
	s := openT(t, Options{})
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 2*pruneBatch + 100
	ids := make([]uuid.UUID, n)
	commitT(t, s, func(b *Batch) {
		for i := range ids {
			ids[i] = uuid.New()
			b.PutIncident(ids[i], &Incident{Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Hour)})
		}
	})
	got, err := s.PruneIncidents(t0.Add(n * time.Second))
	if err != nil || got != n {
		t.Fatalf("pruned %d, %v; want %d", got, err, n)
	}
	for _, id := range []uuid.UUID{ids[0], ids[pruneBatch], ids[n-1]} {
		if ins, _ := s.Incidents(id); len(ins) != 0 {
			t.Fatalf("%s kept %+v", id, ins)
		}
	}
}
