package monitor

import (
	"errors"
	"fmt"
	"time"
)

const day = 24 * time.Hour

// Config is a monitor's timing configuration as the API stores it (Better
// Uptime's check_frequency, confirmation_period, recovery_period,
// maintenance_from and maintenance_to), plus the monitor's id.
type Config struct {
	// ID is the monitor's id. It only fixes the probe phase, so that monitors
	// created together still probe at different instants.
	ID                 [16]byte
	CheckFrequency     time.Duration // > 0
	ConfirmationPeriod time.Duration // >= 0; 0: the first failure opens an incident
	RecoveryPeriod     time.Duration // >= 0; 0: the first success resolves it
	// MaintenanceFrom and MaintenanceTo are times of day in UTC, as offsets from
	// midnight in [0, 24h). The window is [From, To) and may cross midnight
	// (23:00→01:00). Equal values, including both unset, mean no window, so an
	// API layer must reject a window with only one end given (see ParseWindow).
	MaintenanceFrom time.Duration
	MaintenanceTo   time.Duration
	// Location is the zone From and To are wall-clock times in (Better Uptime's
	// maintenance_timezone); nil is UTC.
	Location *time.Location
	// Days are the weekdays a window may start on (bit 1<<time.Weekday;
	// maintenance_days); 0 is every day. A window crossing midnight belongs to
	// the day it starts.
	Days uint8
}

// Spec is a compiled Config. The zero Spec is usable (it never probes and has no
// window) so that no stored state can make Apply panic.
type Spec struct {
	cfg   Config
	phase time.Duration
	// grid is the phase re-expressed against time.Time's zero instant, which is
	// what Time.Truncate counts from: Unix-epoch arithmetic would overflow int64
	// nanoseconds outside 1678–2262, Truncate never does.
	grid time.Duration
}

// Compile validates c and prepares it for Apply.
func Compile(c Config) (Spec, error) {
	if c.CheckFrequency <= 0 {
		return Spec{}, fmt.Errorf("check frequency must be positive, got %s", c.CheckFrequency)
	}
	if c.ConfirmationPeriod < 0 {
		return Spec{}, fmt.Errorf("negative confirmation period %s", c.ConfirmationPeriod)
	}
	if c.RecoveryPeriod < 0 {
		return Spec{}, fmt.Errorf("negative recovery period %s", c.RecoveryPeriod)
	}
	if c.MaintenanceFrom < 0 || c.MaintenanceFrom >= day {
		return Spec{}, fmt.Errorf("maintenance start %s is not a time of day", c.MaintenanceFrom)
	}
	if c.MaintenanceTo < 0 || c.MaintenanceTo >= day {
		return Spec{}, fmt.Errorf("maintenance end %s is not a time of day", c.MaintenanceTo)
	}
	s := Spec{cfg: c, phase: Phase(c.ID, c.CheckFrequency)}
	epoch := time.Unix(0, 0).UTC()
	off := epoch.Sub(epoch.Truncate(c.CheckFrequency)) // (epoch − zero time) mod freq
	s.grid = (s.phase + off) % c.CheckFrequency
	return s, nil
}

// Config returns the configuration s was compiled from.
func (s Spec) Config() Config { return s.cfg }

// Phase is the monitor's probe phase: probes happen at the instants whose
// distance from the Unix epoch is ≡ Phase (mod CheckFrequency).
func (s Spec) Phase() time.Duration { return s.phase }

// Phase maps a monitor id to an offset in [0, freq), 0 if freq <= 0. Ids are
// hashed, not read, because they may be sequential or time-ordered (UUIDv7),
// and the finaliser spreads ids differing in one bit over the whole range.
func Phase(id [16]byte, freq time.Duration) time.Duration {
	if freq <= 0 {
		return 0
	}
	h := uint64(14695981039346656037) // FNV-1a
	for _, b := range id {
		h ^= uint64(b)
		h *= 1099511628211
	}
	// murmur3's fmix64: FNV's low bits alone avalanche poorly.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return time.Duration(h % uint64(freq))
}

// NextProbe is the first instant strictly after after whose distance from the
// Unix epoch is ≡ spec's phase (mod CheckFrequency); zero for the zero Spec.
func NextProbe(spec Spec, after time.Time) time.Time {
	freq := spec.cfg.CheckFrequency
	if freq <= 0 {
		return time.Time{}
	}
	after = after.UTC()
	t := after.Truncate(freq).Add(spec.grid)
	if !t.After(after) {
		t = t.Add(freq)
	}
	return t
}

// HasWindow reports whether spec has a daily maintenance window.
func (s Spec) HasWindow() bool { return s.cfg.MaintenanceFrom != s.cfg.MaintenanceTo }

// InWindow reports whether t is inside a maintenance window [start, end).
func (s Spec) InWindow(t time.Time) bool {
	if !s.HasWindow() {
		return false
	}
	in := false
	s.windows(t, func(start, end time.Time) bool {
		if !t.Before(start) && t.Before(end) {
			in = true
			return false
		}
		return true
	})
	return in
}

// nextBoundary is the first window start or end strictly after t, or zero when
// there is no window.
func (s Spec) nextBoundary(t time.Time) time.Time {
	if !s.HasWindow() {
		return time.Time{}
	}
	var next time.Time
	s.windows(t, func(start, end time.Time) bool {
		for _, b := range []time.Time{start, end} {
			if b.After(t) && (next.IsZero() || b.Before(next)) {
				next = b
			}
		}
		return true
	})
	return next
}

// windows calls fn with each window that starts on a day from the day before
// t to eight days after it (enough for any set of weekdays), in order, until
// fn returns false. Starts and ends are wall-clock times in the window's
// zone, so a window keeps its local hours across DST changes; a wall time that
// a DST change skips is taken as time.Date normalises it.
func (s Spec) windows(t time.Time, fn func(start, end time.Time) bool) {
	loc := s.cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	from, to := s.cfg.MaintenanceFrom, s.cfg.MaintenanceTo
	span := 0
	if to <= from {
		span = 1 // ends the next day
	}
	at := func(y int, m time.Month, d int, tod time.Duration) time.Time {
		return time.Date(y, m, d, int(tod/time.Hour), int(tod%time.Hour/time.Minute),
			int(tod%time.Minute/time.Second), int(tod%time.Second), loc)
	}
	y, m, d := lt.Date()
	for i := -1; i <= 8; i++ {
		start := at(y, m, d+i, from)
		if s.cfg.Days != 0 && s.cfg.Days&(1<<start.Weekday()) == 0 {
			continue
		}
		if !fn(start, at(y, m, d+i+span, to)) {
			return
		}
	}
}

// ParseTimeOfDay parses Better Uptime's "HH:MM:SS" (UTC) into an offset from
// midnight.
func ParseTimeOfDay(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid time of day %q, want HH:MM:SS", s)
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return 0, bad
	}
	var v [3]int
	for i := range v {
		hi, lo := s[3*i], s[3*i+1]
		if hi < '0' || hi > '9' || lo < '0' || lo > '9' {
			return 0, bad
		}
		v[i] = int(hi-'0')*10 + int(lo-'0')
	}
	if v[0] > 23 || v[1] > 59 || v[2] > 59 {
		return 0, bad
	}
	return time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second, nil
}

// FormatTimeOfDay is the inverse of ParseTimeOfDay for whole seconds in [0, 24h).
func FormatTimeOfDay(d time.Duration) string {
	d = ((d % day) + day) % day
	s := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// ParseWindow parses maintenance_from and maintenance_to. Both empty is no
// window; one empty is an error, because storing it as 00:00:00 would silently
// create a window up to or from midnight.
func ParseWindow(from, to string) (time.Duration, time.Duration, error) {
	if from == "" && to == "" {
		return 0, 0, nil
	}
	if from == "" || to == "" {
		return 0, 0, errors.New("maintenance_from and maintenance_to must be given together")
	}
	f, err := ParseTimeOfDay(from)
	if err != nil {
		return 0, 0, err
	}
	t, err := ParseTimeOfDay(to)
	if err != nil {
		return 0, 0, err
	}
	return f, t, nil
}
