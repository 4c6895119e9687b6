package store

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestMonitorRecords(t *testing.T) {
	s := openT(t, Options{})
	m := &Monitor{ID: uuid.New(), ProjectID: uuid.New(), Attrs: []byte(`{"URL":"x"}`), Created: t0, Status: "up"}
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
	// Incidents: an old one is dropped when a new one opens past the retention.
	old := Incident{Start: t0, End: t0.Add(time.Minute), Cause: "timeout"}
	commitT(t, s, func(b *Batch) { b.PutIncident(m.ID, &old) })
	recent := Incident{Start: t0.Add(IncidentRetention - time.Hour), Cause: "refused"}
	commitT(t, s, func(b *Batch) { b.PutIncident(m.ID, &recent) })
	if ins, _ := s.Incidents(m.ID); len(ins) != 2 {
		t.Fatalf("within retention: %+v", ins)
	}
	recent.End = recent.Start.Add(time.Minute)
	commitT(t, s, func(b *Batch) { b.PutIncident(m.ID, &recent) })
	later := Incident{Start: t0.Add(IncidentRetention + time.Hour)}
	commitT(t, s, func(b *Batch) { b.PutIncident(m.ID, &later) })
	ins, err := s.Incidents(m.ID)
	if err != nil || len(ins) != 2 || !ins[0].Start.Equal(recent.Start) || !ins[0].End.Equal(recent.End) || ins[0].Cause != "refused" {
		t.Fatalf("after retention: %+v %v", ins, err)
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
