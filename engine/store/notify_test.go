package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestNotificationsAndOutbox(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	p := testProject(1)
	c := testCheck(p.ID, 1)
	ch := Channel{ID: uuid.New(), ProjectID: p.ID, Name: "ops", Kind: "webhook", Config: []byte(`{"url":"http://x"}`), Created: t0}
	commitT(t, s, func(b *Batch) { b.PutProject(p); b.PutCheck(nil, c); b.PutChannel(&ch) })

	var made []*Notification
	for i, ev := range []string{"down", "up", "down"} {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		n := &Notification{ID: id, CheckID: c.ID, ProjectID: p.ID, ChannelID: ch.ID, Event: ev,
			Created: t0.Add(time.Duration(i) * time.Second), FlipAt: t0, State: NotifyPending,
			Check: NotifiedCheck{Name: c.Name, Tags: c.Tags, AlertTags: []string{"a"}, LastPing: t0.Add(time.Nanosecond)}}
		made = append(made, n)
		commitT(t, s, func(b *Batch) { b.PutNotification(n) })
	}
	// The first is delivered after a failed attempt: it leaves the outbox.
	made[0].AddAttempt(Attempt{At: t0, Status: 500, Error: "boom", Latency: time.Millisecond})
	made[0].AddAttempt(Attempt{At: t0.Add(time.Second), Status: 200, Latency: 2 * time.Millisecond})
	made[0].State = NotifyDelivered
	commitT(t, s, func(b *Batch) { b.PutNotification(made[0]) })

	got, err := s.Notifications(c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != made[2].ID || got[2].ID != made[0].ID {
		t.Fatalf("log not newest first: %v", got)
	}
	if !reflect.DeepEqual(got[2], *made[0]) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got[2], *made[0])
	}
	if lim, _ := s.Notifications(c.ID, 1); len(lim) != 1 || lim[0].ID != made[2].ID {
		t.Errorf("limit 1: %v", lim)
	}
	var pending []uuid.UUID
	if err := s.Outbox(func(id uuid.UUID, n *Notification) error {
		if n == nil || n.ID != id {
			t.Errorf("outbox entry %s: %v", id, n)
		}
		pending = append(pending, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []uuid.UUID{made[1].ID, made[2].ID}; !reflect.DeepEqual(pending, want) {
		t.Errorf("outbox = %v, want %v (oldest first, delivered gone)", pending, want)
	}
	chans, err := s.Channels(p.ID)
	if err != nil || len(chans) != 1 || !reflect.DeepEqual(chans[0], ch) {
		t.Errorf("channels = %v, %v", chans, err)
	}

	// Deleting the check drops its log; its outbox entries then read as gone.
	if err := s.DeleteCheck(c); err != nil {
		t.Fatal(err)
	}
	gone := 0
	if err := s.Outbox(func(id uuid.UUID, n *Notification) error {
		if n == nil {
			gone++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if gone != 2 {
		t.Errorf("outbox entries of a deleted check reported gone: %d, want 2", gone)
	}
	if err := s.DeleteProject(p.ID); err != nil {
		t.Fatal(err)
	}
	if chans, _ := s.Channels(p.ID); len(chans) != 0 {
		t.Errorf("channels survive their project: %v", chans)
	}
}

func TestAttemptLogBounded(t *testing.T) {
	var n Notification
	for i := 0; i < MaxAttemptsKept+7; i++ {
		n.AddAttempt(Attempt{Status: i})
	}
	if n.NAttempts != MaxAttemptsKept+7 || len(n.Attempts) != MaxAttemptsKept || n.Attempts[0].Status != 7 {
		t.Errorf("NAttempts %d, kept %d, oldest kept %d", n.NAttempts, len(n.Attempts), n.Attempts[0].Status)
	}
}
