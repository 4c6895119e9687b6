package heartbeat

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	// Cron deadlines depend on zone rules; embedding them keeps a check's
	// behaviour identical on hosts without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// Kind selects how the next expected ping is derived from the last one.
type Kind uint8

const (
	Simple Kind = iota // last ping + Timeout
	Cron               // next Schedule time after the last ping, in TZ
)

func (k Kind) String() string {
	switch k {
	case Simple:
		return "simple"
	case Cron:
		return "cron"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Config is a check's timing configuration as the API stores it.
type Config struct {
	Kind         Kind
	Timeout      time.Duration // simple checks: expected period
	Grace        time.Duration
	Schedule     string // cron checks: 5-field cron expression or @hourly/@daily/@weekly/@monthly/@yearly
	TZ           string // IANA name, default "UTC"
	ManualResume bool
	// PostOnly is Healthchecks.io's methods "POST": a ping by any other HTTP
	// method is logged as ignored and changes nothing.
	PostOnly bool
}

// Spec is a compiled Config: cron parsing and zone loading happen once per config
// change, not once per ping. The zero Spec is usable (a simple check with zero
// timeout and grace) so that a state can never make Apply panic.
type Spec struct {
	cfg   Config
	loc   *time.Location
	sched *cron.SpecSchedule // evaluated on naive wall-clock time (Location UTC)
	// wall: the schedule names specific hours and minutes, so Debian cron (and
	// Healthchecks' cronsim) evaluate it on the local wall clock: a time skipped
	// by a DST jump fires right after the jump, a repeated time fires once.
	// Otherwise the schedule is matched against every real instant.
	wall bool
}

// MaxDuration is the longest start→finish interval reported as a run duration
// on a ping, as Healthchecks' Ping.duration only looks back that far.
const MaxDuration = 72 * time.Hour

// Compile validates c and prepares it for Apply.
func Compile(c Config) (Spec, error) {
	if c.Kind != Simple && c.Kind != Cron {
		return Spec{}, fmt.Errorf("unknown check kind %d", c.Kind)
	}
	if c.Timeout < 0 {
		return Spec{}, fmt.Errorf("negative timeout %s", c.Timeout)
	}
	if c.Grace < 0 {
		return Spec{}, fmt.Errorf("negative grace %s", c.Grace)
	}
	if c.TZ == "" {
		c.TZ = "UTC"
	}
	// "Local" would make a check's schedule depend on the server's zone.
	if c.TZ == "Local" {
		return Spec{}, fmt.Errorf("unknown time zone %q", c.TZ)
	}
	loc, err := time.LoadLocation(c.TZ)
	if err != nil {
		return Spec{}, fmt.Errorf("unknown time zone %q", c.TZ)
	}
	s := Spec{cfg: c, loc: loc}
	if c.Kind == Cron {
		sched, wall, err := parseCron(c.Schedule)
		if err != nil {
			return Spec{}, fmt.Errorf("invalid cron expression %q: %v", c.Schedule, err)
		}
		s.sched, s.wall = sched, wall
		// Healthchecks accepts an expression only if it fires at all (e.g. not
		// "0 0 31 2 *" narrowed by a day-of-week AND).
		if nextSched(sched, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
			return Spec{}, fmt.Errorf("invalid cron expression %q: never fires", c.Schedule)
		}
	}
	return s, nil
}

// Config returns the configuration s was compiled from, with TZ defaulted.
func (s Spec) Config() Config { return s.cfg }

// robfig's marker for a day field written as "*"; dayMatches ANDs the two day
// fields when either carries it and ORs them otherwise.
const starBit = 1 << 63

var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

var fieldParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// daysIn is the most days each month can have (cronsim's DAYS_IN_MONTH).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func parseCron(expr string) (sched *cron.SpecSchedule, wall bool, err error) {
	defer func() {
		// robfig's parser has panicked on malformed "TZ=" prefixes; a bad
		// expression must be an error, never a crash.
		if r := recover(); r != nil {
			sched, wall, err = nil, false, fmt.Errorf("%v", r)
		}
	}()
	f := strings.Fields(expr)
	if len(f) > 0 && strings.HasPrefix(f[0], "@") {
		exp, ok := descriptors[strings.ToLower(f[0])]
		if !ok || len(f) != 1 {
			return nil, false, fmt.Errorf("unsupported descriptor %s", strings.Join(f, " "))
		}
		f = strings.Fields(exp)
	}
	if len(f) != 5 {
		return nil, false, fmt.Errorf("expected 5 fields, found %d", len(f))
	}
	if strings.Contains(expr, "=") {
		return nil, false, errors.New("time zone prefixes are not supported, set the check's tz instead")
	}
	// robfig's day-of-week range is 0-6; Healthchecks also accepts 7 for Sunday.
	dow, err := parseDow(f[4])
	if err != nil {
		return nil, false, err
	}
	parsed, err := fieldParser.Parse(strings.Join([]string{f[0], f[1], f[2], f[3], "*"}, " "))
	if err != nil {
		return nil, false, err
	}
	sched, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, false, errors.New("unsupported expression")
	}
	sched.Location = time.UTC
	sched.Dow = dow
	// Debian cron and cronsim AND the day fields when either *starts* with "*"
	// ("*/2" included); robfig only when either is exactly "*".
	sched.Dom &^= starBit
	if isStar(f[2]) {
		sched.Dom |= starBit
	}
	if isStar(f[4]) {
		sched.Dow |= starBit
	}
	if minDom := bits.TrailingZeros64(sched.Dom &^ starBit); minDom > 29 {
		most := 0
		for m := 1; m <= 12; m++ {
			if sched.Month&(1<<m) != 0 && daysIn[m] > most {
				most = daysIn[m]
			}
		}
		if minDom > most {
			return nil, false, errors.New("day-of-month is past the end of every month selected")
		}
	}
	return sched, !isStar(f[0]) && !isStar(f[1]), nil
}

func isStar(field string) bool {
	return strings.HasPrefix(field, "*") || strings.HasPrefix(field, "?")
}

var dowNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// parseDow follows cronsim's day-of-week grammar (0-7, names, ranges, steps,
// lists) minus its L and # extensions, which robfig has no way to express.
func parseDow(field string) (uint64, error) {
	errBad := fmt.Errorf("bad day-of-week %q", field)
	val := func(s string) (int, error) {
		if v, ok := dowNames[strings.ToLower(s)]; ok {
			return v, nil
		}
		if s == "" || strings.Trim(s, "0123456789") != "" || len(s) > 2 {
			return 0, errBad
		}
		v, _ := strconv.Atoi(s)
		if v > 7 {
			return 0, errBad
		}
		return v, nil
	}
	var set uint64
	for _, term := range strings.Split(field, ",") {
		base, stepStr, hasStep := strings.Cut(term, "/")
		lo, hi := 0, 7
		switch {
		case base == "*" || base == "?":
		case strings.Contains(base, "-"):
			a, b, _ := strings.Cut(base, "-")
			var err error
			if lo, err = val(a); err != nil {
				return 0, err
			}
			if hi, err = val(b); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, errBad
			}
		default:
			v, err := val(base)
			if err != nil {
				return 0, err
			}
			lo = v
			if !hasStep {
				hi = v // "N/step" runs from N to 7, as in cronsim and Vixie cron
			}
		}
		step := 1
		if hasStep {
			if stepStr == "" || len(stepStr) > 3 || strings.Trim(stepStr, "0123456789") != "" {
				return 0, errBad
			}
			step, _ = strconv.Atoi(stepStr)
			if step == 0 {
				return 0, errBad
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << (v % 7)
		}
	}
	return set, nil
}

// nextSched is robfig's Next on a UTC (naive wall-clock) schedule, extended from
// robfig's 5-year horizon to cronsim's 50 so that e.g. "0 0 29 2 *" still finds
// 2104-02-29 from 2097.
func nextSched(s *cron.SpecSchedule, t time.Time) time.Time {
	for i := 0; i < 10; i++ {
		if t.Year() < 1 || t.Year() > 9000 {
			// robfig's year loop is not safe near time.Time's limits.
			return time.Time{}
		}
		if n := s.Next(t); !n.IsZero() {
			return n
		}
		t = time.Date(t.Year()+6, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
	}
	return time.Time{}
}

// wallOf is t's local wall-clock reading, labelled UTC so that robfig's Next
// runs on it without any DST logic.
func wallOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// nextCron is the first scheduled instant strictly after t, in UTC, or zero if
// the schedule does not fire within ~50 years.
func (s Spec) nextCron(t time.Time) time.Time {
	if s.sched == nil || s.loc == nil {
		return time.Time{}
	}
	var r time.Time
	if s.wall {
		r = s.nextWall(t)
	} else {
		r = s.nextReal(t)
	}
	if r.IsZero() {
		return r
	}
	return r.UTC()
}

// nextWall iterates the schedule on the naive local clock, then maps each
// candidate to a real instant the way cronsim does: a repeated wall time is
// its first occurrence; a skipped one is the instant the clock jumps.
//
// Deviation from cronsim: a candidate whose first occurrence is not after t
// (t in the repeated hour, candidate earlier in that hour's first pass) is
// skipped instead of returned, because a grace start in the past would mark a
// punctual check late at once. Debian cron runs such a job in the first pass
// only, so the next run really is the following candidate.
func (s Spec) nextWall(t time.Time) time.Time {
	n := wallOf(t.In(s.loc))
	for i := 0; i < 4096; i++ {
		n = nextSched(s.sched, n)
		if n.IsZero() {
			return n
		}
		var r time.Time
		if at := instantsAt(n, s.loc); len(at) > 0 {
			r = at[0]
		} else {
			r = gapEnd(n, s.loc)
		}
		if r.After(t) {
			return r
		}
	}
	return time.Time{}
}

// nextReal is the first instant after t whose local wall clock matches the
// schedule (cronsim's behaviour for "*"-hour or "*"-minute schedules). Within
// one zone period the wall clock is t+offset, so one naive Next answers;
// a candidate beyond the period's end means the search moves on to the next
// period, starting inclusively at its first instant.
func (s Spec) nextReal(t time.Time) time.Time {
	from := t.In(s.loc)
	naive := wallOf(from)
	for i := 0; i < 256; i++ {
		n := nextSched(s.sched, naive)
		if n.IsZero() {
			return n
		}
		_, off := from.Zone()
		_, end := from.ZoneBounds()
		r := n.Add(-time.Duration(off) * time.Second)
		if end.IsZero() || r.Before(end) {
			return r
		}
		from = end.In(s.loc)
		naive = wallOf(from).Add(-time.Nanosecond)
	}
	return time.Time{}
}

// instantsAt lists, in order, the real instants whose wall clock in loc reads
// n (n's fields, UTC-labelled): none in a DST gap, two in a repeated hour.
func instantsAt(n time.Time, loc *time.Location) []time.Time {
	t0 := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), n.Nanosecond(), loc)
	start, end := t0.ZoneBounds()
	probes := []time.Time{t0}
	if !start.IsZero() {
		probes = append(probes, start.Add(-time.Nanosecond))
	}
	if !end.IsZero() {
		probes = append(probes, end)
	}
	var out []time.Time
	seen := map[int]bool{}
	for _, p := range probes {
		_, off := p.In(loc).Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		r := n.Add(-time.Duration(off) * time.Second).In(loc)
		if wallOf(r).Equal(n) {
			out = append(out, r)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Before(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// gapEnd is the instant the clock jumps over the non-existent wall time n.
func gapEnd(n time.Time, loc *time.Location) time.Time {
	t0 := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), n.Nanosecond(), loc)
	start, end := t0.ZoneBounds()
	for _, tr := range []time.Time{start, end} {
		if tr.IsZero() {
			continue
		}
		if wallOf(tr.In(loc)).After(n) && wallOf(tr.Add(-time.Nanosecond).In(loc)).Before(n) {
			return tr
		}
	}
	return t0
}
