package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/notify/channel"
)

type fixture struct {
	t   *testing.T
	st  *store.Store
	x   *Outbox
	dir string
}

func open(t *testing.T, dir string, o Options) *fixture {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	o.Store = st
	o.Env = &channel.Env{Dial: d.DialContext}
	x, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, x: x, dir: dir}
	t.Cleanup(f.close)
	return f
}

func (f *fixture) close() {
	if f.x == nil {
		return
	}
	f.x.Close()
	if err := f.st.Close(); err != nil {
		f.t.Error(err)
	}
	f.x = nil
}

func (f *fixture) webhook(project uuid.UUID, url string) uuid.UUID {
	f.t.Helper()
	ch, err := f.x.SaveChannel(store.Channel{ID: uuid.New(), ProjectID: project, Kind: "webhook",
		Config: []byte(fmt.Sprintf(`{"url": %q}`, url))})
	if err != nil {
		f.t.Fatal(err)
	}
	return ch.ID
}

// flip makes check c flip from → to, as its actor would: in one batch with the
// check, then hands the notifications over once durable.
func (f *fixture) flip(c *store.Check, from, to string) {
	f.t.Helper()
	b := f.st.NewBatch()
	b.PutCheck(nil, c)
	after := f.x.Flipped(b, c, from, to, time.Now())
	if err := f.st.Commit(b); err != nil {
		f.t.Fatal(err)
	}
	if after != nil {
		after()
	}
}

func (f *fixture) waitLog(check uuid.UUID, done func([]store.Notification) bool) []store.Notification {
	f.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		log, err := f.st.Notifications(check, 0)
		if err != nil {
			f.t.Fatal(err)
		}
		if done(log) {
			return log
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("notification log of %s never settled: %+v", check, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func allIn(state string, n int) func([]store.Notification) bool {
	return func(log []store.Notification) bool {
		k := 0
		for _, x := range log {
			if x.State == state {
				k++
			}
		}
		return k == n
	}
}

func testCheck(project, channels uuid.UUID) *store.Check {
	return &store.Check{ID: uuid.New(), ProjectID: project, Name: "job", Kind: "simple",
		Timeout: time.Minute, Grace: time.Minute, Status: "down", Channels: channels.String()}
}

// Only flips into down, and back up from down, notify.
func TestFlipsThatNotify(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	f := open(t, t.TempDir(), Options{})
	p := uuid.New()
	c := testCheck(p, f.webhook(p, srv.URL))
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"up", "down", true}, {"grace", "down", true}, {"started", "down", true}, {"new", "down", true},
		{"down", "up", true}, {"new", "up", false}, {"paused", "up", false}, {"up", "paused", false},
	} {
		b := f.st.NewBatch()
		after := f.x.Flipped(b, c, tc.from, tc.to, time.Now())
		if got := after != nil; got != tc.want || (b.Len() > 0) != tc.want {
			t.Errorf("%s → %s: notifies %v with %d writes, want %v", tc.from, tc.to, got, b.Len(), tc.want)
		}
		b.Discard()
	}
}

// Per (channel, check), notifications go out one at a time and in order, even
// when the first needs retries; a channel never has more than PerChannel
// deliveries in flight.
func TestOrderAndConcurrency(t *testing.T) {
	var mu sync.Mutex
	inflight, peak := 0, 0
	events := map[string][]string{}
	fails := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Event string
			Check struct{ UUID string }
		}
		raw, _ := io.ReadAll(r.Body)
		json.Unmarshal(raw, &body)
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		fail := body.Event == "down" && fails[body.Check.UUID] < 2
		if fail {
			fails[body.Check.UUID]++
		} else {
			events[body.Check.UUID] = append(events[body.Check.UUID], body.Event)
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // hold the slot, so concurrency shows
		mu.Lock()
		inflight--
		mu.Unlock()
		if fail {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	f := open(t, t.TempDir(), Options{PerChannel: 3, FirstBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	p := uuid.New()
	ch := f.webhook(p, srv.URL)
	var checks []*store.Check
	for i := 0; i < 10; i++ {
		c := testCheck(p, ch)
		checks = append(checks, c)
		f.flip(c, "up", "down")
		f.flip(c, "down", "up")
		f.flip(c, "up", "down")
	}
	for _, c := range checks {
		log := f.waitLog(c.ID, allIn(store.NotifyDelivered, 3))
		if log[2].NAttempts != 3 || log[2].Attempts[0].Status != 503 {
			t.Errorf("first down of %s: %+v", c.ID, log[2])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range checks {
		if got := fmt.Sprint(events[c.ID.String()]); got != "[down up down]" {
			t.Errorf("check %s delivered %s, want [down up down]", c.ID, got)
		}
	}
	if peak > 3 || peak < 2 {
		t.Errorf("peak in flight %d, want 2..3 (PerChannel 3, 10 lanes)", peak)
	}
	if n := f.x.Pending(); n != 0 {
		t.Errorf("pending after delivery: %d", n)
	}
}

// A permanent refusal fails at once; so does a notification past MaxAge; a
// deleted channel's notifications fail; a deleted check's are dropped.
func TestGivingUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(410)
		default:
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	f := open(t, t.TempDir(), Options{MaxAge: time.Hour, FirstBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	p := uuid.New()

	c1 := testCheck(p, f.webhook(p, srv.URL+"/gone"))
	f.flip(c1, "up", "down")
	if log := f.waitLog(c1.ID, allIn(store.NotifyFailed, 1)); log[0].NAttempts != 1 || log[0].Attempts[0].Status != 410 {
		t.Errorf("410: %+v", log[0])
	}

	c2 := testCheck(p, f.webhook(p, srv.URL+"/down"))
	f.flip(c2, "up", "down")
	f.waitLog(c2.ID, func(log []store.Notification) bool { return len(log) == 1 && log[0].NAttempts >= 1 })
	// Its retry comes due on the outbox's clock, and is then past MaxAge.
	clock.Add(int64(2 * time.Hour))
	log := f.waitLog(c2.ID, allIn(store.NotifyFailed, 1))
	if a := log[0].Attempts; a[len(a)-1].Status != 500 {
		t.Errorf("given up without a last attempt: %+v", log[0])
	}

	ch3 := f.webhook(p, srv.URL+"/down")
	c3 := testCheck(p, ch3)
	f.flip(c3, "up", "down")
	f.waitLog(c3.ID, func(log []store.Notification) bool { return len(log) == 1 && log[0].NAttempts >= 1 })
	if err := f.x.DeleteChannel(p, ch3); err != nil {
		t.Fatal(err)
	}
	if log := f.waitLog(c3.ID, allIn(store.NotifyFailed, 1)); log[0].Attempts[len(log[0].Attempts)-1].Error != "channel deleted" {
		t.Errorf("deleted channel: %+v", log[0])
	}

	c4 := testCheck(p, f.webhook(p, srv.URL+"/down"))
	f.flip(c4, "up", "down")
	f.waitLog(c4.ID, func(log []store.Notification) bool { return len(log) == 1 && log[0].NAttempts >= 1 })
	if err := f.st.DeleteCheck(c4); err != nil {
		t.Fatal(err)
	}
	f.x.Forget(c4.ID)
	deadline := time.Now().Add(10 * time.Second)
	for f.x.Pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("pending %d after every notification ended", f.x.Pending())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if log, _ := f.st.Notifications(c4.ID, 0); len(log) != 0 {
		t.Errorf("a deleted check's log came back: %+v", log)
	}
	left := 0
	f.st.Outbox(func(uuid.UUID, *store.Notification) error { left++; return nil })
	if left != 0 {
		t.Errorf("%d outbox entries left", left)
	}
}

// Pending notifications survive a restart and are sent after it.
func TestRestartResends(t *testing.T) {
	var ok atomic.Bool
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok.Load() {
			w.WriteHeader(503)
			return
		}
		got.Add(1)
	}))
	defer srv.Close()
	dir := t.TempDir()
	f := open(t, dir, Options{FirstBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	p := uuid.New()
	c := testCheck(p, f.webhook(p, srv.URL))
	f.flip(c, "up", "down")
	f.waitLog(c.ID, func(log []store.Notification) bool { return len(log) == 1 && log[0].NAttempts >= 1 })
	f.close()
	ok.Store(true)
	f = open(t, dir, Options{})
	f.waitLog(c.ID, allIn(store.NotifyDelivered, 1))
	if got.Load() != 1 {
		t.Errorf("delivered %d times", got.Load())
	}
}

func TestBackoff(t *testing.T) {
	x := &Outbox{o: Options{FirstBackoff: 500 * time.Millisecond, MaxBackoff: 60 * time.Second}}
	for tries, ceil := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second,
		8: 60 * time.Second, 30: 60 * time.Second} {
		for range 200 {
			if d := x.backoff(tries); d < ceil/2 || d > ceil {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tries, d, ceil/2, ceil)
			}
		}
	}
	if d := (Options{}).WithDefaults(); d.FirstBackoff > time.Second {
		t.Errorf("default first retry may wait %v, more than a second", d.FirstBackoff)
	}
}

func TestTestNotification(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
	}))
	defer srv.Close()
	f := open(t, t.TempDir(), Options{})
	p := uuid.New()
	ch := f.webhook(p, srv.URL)
	a, err := f.x.Test(context.Background(), p, ch)
	if err != nil || a.Error != "" || a.Status != 200 {
		t.Fatalf("test: %+v %v", a, err)
	}
	if _, err := f.x.Test(context.Background(), uuid.New(), ch); err != store.ErrNotFound {
		t.Errorf("another project's channel: %v", err)
	}
}

// While the fence refuses, nothing reaches the receiver and no attempt is
// recorded; once it allows, the notification is delivered once.
func TestFenceHoldsDeliveries(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	var owned atomic.Bool
	var asked atomic.Int32
	fence := func(ctx context.Context) error {
		asked.Add(1)
		if !owned.Load() {
			return fmt.Errorf("not the owner")
		}
		return nil
	}
	f := open(t, t.TempDir(), Options{FirstBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, Fence: fence})
	p := uuid.New()
	c := testCheck(p, f.webhook(p, srv.URL))
	f.flip(c, "up", "down")
	deadline := time.Now().Add(15 * time.Second)
	for asked.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("the fence was asked %d times: a refused attempt must be retried", asked.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := got.Load(); n != 0 {
		t.Fatalf("%d deliveries while fenced", n)
	}
	log, err := f.st.Notifications(c.ID, 0)
	if err != nil || len(log) != 1 || log[0].NAttempts != 0 || log[0].State != store.NotifyPending {
		t.Fatalf("while fenced: %+v, %v; want one pending notification, no attempts", log, err)
	}
	owned.Store(true)
	f.waitLog(c.ID, allIn(store.NotifyDelivered, 1))
	if n := got.Load(); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}
