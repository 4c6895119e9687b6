package monitor

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// posMod is (t − Unix epoch) mod freq, for t within int64 nanoseconds.
func posMod(t time.Time, freq time.Duration) time.Duration {
	return time.Duration(((t.UnixNano() % int64(freq)) + int64(freq)) % int64(freq))
}

func TestPhaseSpread(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, freq = 1000, 60 * sec
	var buckets [60]int
	seen := map[time.Duration]bool{}
	for i := 0; i < n; i++ {
		var id [16]byte
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		p := Phase(id, freq)
		if p < 0 || p >= freq {
			t.Fatalf("phase %v out of [0, %v)", p, freq)
		}
		seen[p] = true
		buckets[p/sec]++
	}
	if len(seen) < n*9/10 {
		t.Errorf("only %d distinct phases among %d ids", len(seen), n)
	}
	// ~16.7 per one-second bucket; a burst would pile them up.
	for i, b := range buckets {
		if b == 0 || b > 40 {
			t.Errorf("second %d holds %d of %d phases", i, b, n)
		}
	}
}

// Sequential ids (a counter in the last bytes, as UUIDv7s created in one
// millisecond differ) must spread as well as random ones.
func TestPhaseSequentialIDs(t *testing.T) {
	var buckets [60]int
	for i := 0; i < 1000; i++ {
		var id [16]byte
		id[14], id[15] = byte(i>>8), byte(i)
		buckets[Phase(id, 60*sec)/sec]++
	}
	for i, b := range buckets {
		if b == 0 || b > 40 {
			t.Errorf("second %d holds %d phases", i, b)
		}
	}
}

func TestPhaseEdge(t *testing.T) {
	for _, f := range []time.Duration{0, -sec} {
		if p := Phase(testID, f); p != 0 {
			t.Errorf("Phase(freq %v) = %v", f, p)
		}
	}
	if p := Phase(testID, nsec); p != 0 {
		t.Errorf("Phase(1ns) = %v", p)
	}
	if Phase(testID, mins) != Phase(testID, mins) {
		t.Error("Phase is not deterministic")
	}
}

func TestNextProbe(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	freqs := []time.Duration{sec, 30 * sec, mins, 3 * mins, 1500 * ms, 7 * nsec, 24 * hr, 7*hr + 13*nsec}
	for i := 0; i < 2000; i++ {
		var id [16]byte
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		freq := freqs[i%len(freqs)]
		spec := mustCompile(t, Config{ID: id, CheckFrequency: freq})
		phase := spec.Phase()
		// 1824–2116, and sometimes exactly on a probe instant or 1ns off it.
		after := time.Unix(0, rng.Int64()-1<<62)
		switch i % 4 {
		case 1:
			after = NextProbe(spec, after)
		case 2:
			after = NextProbe(spec, after).Add(-nsec)
		}
		n := NextProbe(spec, after)
		if !n.After(after) || n.Sub(after) > freq {
			t.Fatalf("freq %v: NextProbe(%v) = %v, want in (after, after+freq]", freq, after, n)
		}
		if got := posMod(n, freq); got != phase {
			t.Fatalf("freq %v: NextProbe(%v) = %v ≡ %v, want ≡ phase %v", freq, after, n, got, phase)
		}
		if n.Location() != time.UTC {
			t.Fatalf("NextProbe not in UTC")
		}
	}
	if !NextProbe(Spec{}, t0).IsZero() {
		t.Error("zero Spec probes")
	}
	// Far outside int64 Unix nanoseconds: no overflow, still after.
	far := time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := NextProbe(mustCompile(t, base), far); !n.After(far) || n.Sub(far) > mins {
		t.Errorf("NextProbe(%v) = %v", far, n)
	}
	// The phase is relative to the Unix epoch, in whatever zone after is given.
	spec := mustCompile(t, Config{ID: testID, CheckFrequency: hr})
	if got, want := NextProbe(spec, time.Unix(0, 0).In(time.FixedZone("X", 5*3600+1800))), time.Unix(0, 0).Add(spec.Phase()).UTC(); spec.Phase() > 0 && !got.Equal(want) {
		t.Errorf("NextProbe(epoch) = %v, want %v", got, want)
	}
}

func TestWindow(t *testing.T) {
	d := func(h, m, s, ns int) time.Time { return time.Date(2026, 5, 1, h, m, s, ns, time.UTC) }
	cross := mustCompile(t, Config{CheckFrequency: mins, MaintenanceFrom: 23 * hr, MaintenanceTo: hr})
	plain := mustCompile(t, Config{CheckFrequency: mins, MaintenanceFrom: hr, MaintenanceTo: 3 * hr})
	none := mustCompile(t, Config{CheckFrequency: mins, MaintenanceFrom: 5 * hr, MaintenanceTo: 5 * hr})
	for _, c := range []struct {
		name string
		spec Spec
		t    time.Time
		in   bool
		next time.Time // next boundary
	}{
		{"cross: 23:30 inside", cross, d(23, 30, 0, 0), true, d(25, 0, 0, 0)},
		{"cross: 00:30 inside", cross, d(0, 30, 0, 0), true, d(1, 0, 0, 0)},
		{"cross: 23:00 exactly inside", cross, d(23, 0, 0, 0), true, d(25, 0, 0, 0)},
		{"cross: 00:00 inside", cross, d(0, 0, 0, 0), true, d(1, 0, 0, 0)},
		{"cross: 00:59:59.999999999 inside", cross, d(1, 0, 0, -1), true, d(1, 0, 0, 0)},
		{"cross: 01:00:00 exactly outside", cross, d(1, 0, 0, 0), false, d(23, 0, 0, 0)},
		{"cross: 22:59:59.999 outside", cross, d(23, 0, 0, -1e6), false, d(23, 0, 0, 0)},
		{"cross: noon outside", cross, d(12, 0, 0, 0), false, d(23, 0, 0, 0)},
		{"cross: other zone, same instant", cross, d(23, 30, 0, 0).In(time.FixedZone("X", -5*3600)), true, d(25, 0, 0, 0)},
		{"plain: 00:59 outside", plain, d(0, 59, 0, 0), false, d(1, 0, 0, 0)},
		{"plain: 01:00 inside", plain, d(1, 0, 0, 0), true, d(3, 0, 0, 0)},
		{"plain: 03:00 outside", plain, d(3, 0, 0, 0), false, d(25, 0, 0, 0)},
		{"equal ends: no window", none, d(5, 0, 0, 0), false, time.Time{}},
		{"zero spec: no window", Spec{}, d(0, 0, 0, 0), false, time.Time{}},
	} {
		if got := c.spec.InWindow(c.t); got != c.in {
			t.Errorf("%s: InWindow = %v", c.name, got)
		}
		if got := c.spec.nextBoundary(c.t); !got.Equal(c.next) {
			t.Errorf("%s: next boundary %v, want %v", c.name, got, c.next)
		}
	}
	if none.HasWindow() || !cross.HasWindow() {
		t.Error("HasWindow")
	}
}

func TestTimeOfDay(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"01:00:00", hr, false},
		{"00:00:00", 0, false},
		{"23:59:59", 24*hr - sec, false},
		{"12:34:56", 12*hr + 34*mins + 56*sec, false},
		{"24:00:00", 0, true},
		{"12:60:00", 0, true},
		{"12:00:60", 0, true},
		{"1:00:00", 0, true},
		{"01:00", 0, true},
		{"01-00-00", 0, true},
		{"0a:00:00", 0, true},
		{"", 0, true},
		{"01:00:00Z", 0, true},
	} {
		got, err := ParseTimeOfDay(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseTimeOfDay(%q) = %v, %v", c.in, got, err)
		}
		if !c.err && FormatTimeOfDay(got) != c.in {
			t.Errorf("FormatTimeOfDay(%v) = %q", got, FormatTimeOfDay(got))
		}
	}
	if got := FormatTimeOfDay(-hr); got != "23:00:00" {
		t.Errorf("FormatTimeOfDay(-1h) = %q", got)
	}
	for _, c := range []struct {
		from, to   string
		wantF, wT  time.Duration
		errContain string
	}{
		{"", "", 0, 0, ""},
		{"23:00:00", "01:00:00", 23 * hr, hr, ""},
		{"23:00:00", "", 0, 0, "together"},
		{"", "01:00:00", 0, 0, "together"},
		{"25:00:00", "01:00:00", 0, 0, "invalid time of day"},
		{"23:00:00", "x", 0, 0, "invalid time of day"},
	} {
		f, to, err := ParseWindow(c.from, c.to)
		if c.errContain == "" && (err != nil || f != c.wantF || to != c.wT) ||
			c.errContain != "" && (err == nil || !strings.Contains(err.Error(), c.errContain)) {
			t.Errorf("ParseWindow(%q, %q) = %v, %v, %v", c.from, c.to, f, to, err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // substring; "" = must compile
	}{
		{base, ""},
		{Config{CheckFrequency: 30 * sec, MaintenanceFrom: 23 * hr, MaintenanceTo: 0}, ""},
		{Config{CheckFrequency: 0}, "check frequency must be positive"},
		{Config{CheckFrequency: -sec}, "check frequency must be positive"},
		{Config{CheckFrequency: sec, ConfirmationPeriod: -1}, "negative confirmation period"},
		{Config{CheckFrequency: sec, RecoveryPeriod: -1}, "negative recovery period"},
		{Config{CheckFrequency: sec, MaintenanceFrom: 24 * hr}, "maintenance start"},
		{Config{CheckFrequency: sec, MaintenanceFrom: -1}, "maintenance start"},
		{Config{CheckFrequency: sec, MaintenanceTo: 25 * hr}, "maintenance end"},
	} {
		_, err := Compile(c.cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
	if got := mustCompile(t, base).Config(); got != base {
		t.Errorf("Config() = %+v", got)
	}
}

func TestWindowZoneAndDays(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	riga, err := time.LoadLocation("Europe/Riga")
	if err != nil {
		t.Fatal(err)
	}
	h := time.Hour
	mk := func(from, to time.Duration, loc *time.Location, days ...time.Weekday) Spec {
		var mask uint8
		for _, d := range days {
			mask |= 1 << d
		}
		s, err := Compile(Config{CheckFrequency: time.Minute, MaintenanceFrom: from, MaintenanceTo: to, Location: loc, Days: mask})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// 2026-11-23 is a Monday.
	mon := func(hh, mm int, loc *time.Location) time.Time { return time.Date(2026, 11, 23, hh, mm, 0, 0, loc) }
	for _, tc := range []struct {
		name string
		spec Spec
		at   time.Time
		in   bool
		next time.Time
	}{
		{"tokyo wall time, inside", mk(9*h, 10*h, tokyo), mon(9, 30, tokyo), true, mon(10, 0, tokyo)},
		{"tokyo wall time is not UTC", mk(9*h, 10*h, tokyo), mon(9, 30, time.UTC), false, mon(9, 0, tokyo).AddDate(0, 0, 1)},
		{"not on Monday", mk(9*h, 10*h, time.UTC, time.Tuesday), mon(9, 30, time.UTC), false, mon(9, 0, time.UTC).AddDate(0, 0, 1)},
		{"on Tuesday", mk(9*h, 10*h, time.UTC, time.Tuesday), mon(9, 30, time.UTC).AddDate(0, 0, 1), true, mon(10, 0, time.UTC).AddDate(0, 0, 1)},
		{"crossing midnight belongs to its start day", mk(23*h, h, time.UTC, time.Sunday), mon(0, 30, time.UTC), true, mon(1, 0, time.UTC)},
		{"start day not chosen", mk(23*h, h, time.UTC, time.Sunday), mon(23, 30, time.UTC), false, mon(23, 0, time.UTC).AddDate(0, 0, 6)},
		// Riga leaves summer time on 2026-10-25 at 04:00 local: the window keeps
		// its wall-clock hours, so its UTC instants move by an hour.
		{"dst: wall clock kept", mk(5*h, 6*h, riga), time.Date(2026, 10, 26, 3, 30, 0, 0, time.UTC), true, time.Date(2026, 10, 26, 4, 0, 0, 0, time.UTC)},
		{"dst: before the change", mk(5*h, 6*h, riga), time.Date(2026, 10, 24, 2, 30, 0, 0, time.UTC), true, time.Date(2026, 10, 24, 3, 0, 0, 0, time.UTC)},
	} {
		if got := tc.spec.InWindow(tc.at); got != tc.in {
			t.Errorf("%s: InWindow(%v) = %v, want %v", tc.name, tc.at, got, tc.in)
		}
		if got := tc.spec.nextBoundary(tc.at); !got.Equal(tc.next) {
			t.Errorf("%s: nextBoundary(%v) = %v, want %v", tc.name, tc.at, got, tc.next)
		}
	}
}
