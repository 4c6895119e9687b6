package heartbeat

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func loc(t testing.TB, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCronNext(t *testing.T) {
	utc := time.UTC
	d := func(y int, mo time.Month, dd, h, mi int) time.Time { return time.Date(y, mo, dd, h, mi, 0, 0, utc) }
	for _, c := range []struct {
		sched string
		after time.Time
		want  time.Time
	}{
		{"*/5 * * * *", d(2026, 5, 1, 12, 0), d(2026, 5, 1, 12, 5)}, // strictly after
		{"*/5 * * * *", d(2026, 5, 1, 12, 0).Add(-nsec), d(2026, 5, 1, 12, 0)},
		{"*/5 * * * *", d(2026, 5, 1, 12, 4).Add(59*sec + 999*time.Millisecond), d(2026, 5, 1, 12, 5)},
		{"0 0 * * *", d(2026, 12, 31, 23, 59), d(2027, 1, 1, 0, 0)},
		{"@daily", d(2026, 5, 1, 0, 0), d(2026, 5, 2, 0, 0)},
		{"@weekly", d(2026, 5, 1, 0, 0), d(2026, 5, 3, 0, 0)}, // 2026-05-01 is a Friday
		{"@monthly", d(2026, 5, 1, 0, 0), d(2026, 6, 1, 0, 0)},
		{"@yearly", d(2026, 5, 1, 0, 0), d(2027, 1, 1, 0, 0)},
		{"@hourly", d(2026, 5, 1, 0, 30), d(2026, 5, 1, 1, 0)},
		{"0 9 * * 7", d(2026, 5, 1, 0, 0), d(2026, 5, 3, 9, 0)},        // 7 is Sunday
		{"0 9 * * 5-7", d(2026, 5, 2, 10, 0), d(2026, 5, 3, 9, 0)},     // Fri-Sun
		{"0 9 * * 1/2", d(2026, 5, 2, 10, 0), d(2026, 5, 3, 9, 0)},     // 1,3,5,7 as in cronsim
		{"0 9 * * */7", d(2026, 5, 2, 10, 0), d(2026, 5, 3, 9, 0)},     // 0,7
		{"0 9 * * mon-FRI", d(2026, 5, 1, 10, 0), d(2026, 5, 4, 9, 0)}, // names, any case
		{"0 0 13 * 5", d(2026, 5, 1, 1, 0), d(2026, 5, 8, 0, 0)},       // both restricted: 13th OR Friday
		// "*/2" starts with "*": day fields are ANDed (Debian, cronsim); robfig alone would OR them.
		{"0 0 */2 * 1", d(2026, 5, 1, 1, 0), d(2026, 5, 11, 0, 0)}, // odd day AND Monday
		{"0 0 1 jan,jul *", d(2026, 5, 1, 1, 0), d(2026, 7, 1, 0, 0)},
		// robfig alone gives up 5 years out; cronsim searches 50.
		{"0 0 29 2 *", d(2097, 3, 1, 0, 0), d(2104, 2, 29, 0, 0)},
		{"0 0 29 2 1", d(2026, 5, 1, 0, 0), d(2027, 2, 1, 0, 0)}, // in February: the 29th OR a Monday
	} {
		sp := mustCompile(t, Config{Kind: Cron, Schedule: c.sched})
		if got := sp.nextCron(c.after); !got.Equal(c.want) {
			t.Errorf("%q after %v: got %v want %v", c.sched, c.after, got, c.want)
		}
	}
}

// cronsim's TestDstTransitions (Europe/Riga, 2021), iterated the way Healthchecks
// uses it: each next expected time is computed from the previous one. Riga moves
// 03:00→04:00 on 2021-03-28 and 04:00→03:00 on 2021-10-31.
func TestCronDSTRiga(t *testing.T) {
	riga := loc(t, "Europe/Riga")
	for _, c := range []struct {
		sched string
		start string
		want  []string
	}{
		{"0 * * * *", "2021-03-28T01:30:00+02:00", []string{"2021-03-28T02:00:00+02:00", "2021-03-28T04:00:00+03:00"}},
		{"0 * * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T02:00:00+03:00", "2021-10-31T03:00:00+03:00", "2021-10-31T03:00:00+02:00", "2021-10-31T04:00:00+02:00"}},
		{"*/30 * * * *", "2021-03-28T02:10:00+02:00", []string{"2021-03-28T02:30:00+02:00", "2021-03-28T04:00:00+03:00", "2021-03-28T04:30:00+03:00"}},
		{"*/30 * * * *", "2021-10-31T02:10:00+03:00", []string{"2021-10-31T02:30:00+03:00", "2021-10-31T03:00:00+03:00", "2021-10-31T03:30:00+03:00", "2021-10-31T03:00:00+02:00", "2021-10-31T03:30:00+02:00", "2021-10-31T04:00:00+02:00"}},
		{"*/15 * * * *", "2021-03-28T02:40:00+02:00", []string{"2021-03-28T02:45:00+02:00", "2021-03-28T04:00:00+03:00"}},
		{"0 */2 * * *", "2021-03-28T01:30:00+02:00", []string{"2021-03-28T02:00:00+02:00", "2021-03-28T04:00:00+03:00", "2021-03-28T06:00:00+03:00"}},
		{"0 */2 * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T02:00:00+03:00", "2021-10-31T04:00:00+02:00", "2021-10-31T06:00:00+02:00"}},
		{"30 */2 * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T02:30:00+03:00", "2021-10-31T04:30:00+02:00"}},
		{"0 */3 * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T03:00:00+03:00", "2021-10-31T03:00:00+02:00", "2021-10-31T06:00:00+02:00"}},
		{"0 1,2,3,4,5 * * *", "2021-03-28T01:30:00+02:00", []string{"2021-03-28T02:00:00+02:00", "2021-03-28T04:00:00+03:00", "2021-03-28T05:00:00+03:00"}},
		{"0 1,2,3,4,5 * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T02:00:00+03:00", "2021-10-31T03:00:00+03:00", "2021-10-31T04:00:00+02:00"}},
		{"30 1,2,3,4,5 * * *", "2021-03-28T01:30:00+02:00", []string{"2021-03-28T02:30:00+02:00", "2021-03-28T04:00:00+03:00", "2021-03-28T04:30:00+03:00"}},
		{"30 1,2,3,4,5 * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T02:30:00+03:00", "2021-10-31T03:30:00+03:00", "2021-10-31T04:30:00+02:00"}},
		{"0 2 * * *", "2021-03-28T01:30:00+02:00", []string{"2021-03-28T02:00:00+02:00", "2021-03-29T02:00:00+03:00"}},
		{"0 3 * * *", "2021-03-27T01:30:00+02:00", []string{"2021-03-27T03:00:00+02:00", "2021-03-28T04:00:00+03:00", "2021-03-29T03:00:00+03:00"}},
		{"0 3 * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T03:00:00+03:00", "2021-11-01T03:00:00+02:00"}},
		{"0 4 * * *", "2021-10-30T01:30:00+03:00", []string{"2021-10-30T04:00:00+03:00", "2021-10-31T04:00:00+02:00", "2021-11-01T04:00:00+02:00"}},
		{"0 1-5 * * *", "2021-03-28T01:30:00+02:00", []string{"2021-03-28T02:00:00+02:00", "2021-03-28T04:00:00+03:00", "2021-03-28T05:00:00+03:00"}},
		{"0 1-5 * * *", "2021-10-31T01:30:00+03:00", []string{"2021-10-31T02:00:00+03:00", "2021-10-31T03:00:00+03:00", "2021-10-31T04:00:00+02:00"}},
		{"15 3 * * *", "2021-03-27T00:00:00+02:00", []string{"2021-03-27T03:15:00+02:00", "2021-03-28T04:00:00+03:00", "2021-03-29T03:15:00+03:00"}},
		{"15 3 * * *", "2021-10-30T00:00:00+03:00", []string{"2021-10-30T03:15:00+03:00", "2021-10-31T03:15:00+03:00", "2021-11-01T03:15:00+02:00"}},
		{"* * * * *", "2021-03-28T02:58:00+02:00", []string{"2021-03-28T02:59:00+02:00", "2021-03-28T04:00:00+03:00"}},
		{"* * * * *", "2021-10-31T03:58:00+03:00", []string{"2021-10-31T03:59:00+03:00", "2021-10-31T03:00:00+02:00", "2021-10-31T03:01:00+02:00"}},
		{"* 1-6 * * *", "2021-10-31T03:58:00+03:00", []string{"2021-10-31T03:59:00+03:00", "2021-10-31T03:00:00+02:00", "2021-10-31T03:01:00+02:00"}},
	} {
		sp := mustCompile(t, Config{Kind: Cron, Schedule: c.sched, TZ: "Europe/Riga"})
		cur, _ := time.Parse(time.RFC3339, c.start)
		for _, w := range c.want {
			want, _ := time.Parse(time.RFC3339, w)
			got := sp.nextCron(cur)
			if !got.Equal(want) {
				t.Errorf("%q after %s: got %s want %s", c.sched, cur.In(riga).Format(time.RFC3339), got.In(riga).Format(time.RFC3339), w)
				break
			}
			cur = got
		}
	}
}

// New York 2026: 02:00 EST→03:00 EDT on Mar 8, 02:00 EDT→01:00 EST on Nov 1.
func TestCronDSTNewYork(t *testing.T) {
	ny := loc(t, "America/New_York")
	for _, c := range []struct {
		name, sched, after, want string
	}{
		{"skipped 02:30 runs at the jump", "30 2 * * *", "2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00"},
		{"and the day after is normal", "30 2 * * *", "2026-03-08T03:00:10-04:00", "2026-03-09T02:30:00-04:00"},
		{"late ping after the jump", "30 2 * * *", "2026-03-08T03:20:00-04:00", "2026-03-09T02:30:00-04:00"},
		{"02:30 is not repeated in the fall", "30 2 * * *", "2026-10-31T02:30:00-04:00", "2026-11-01T02:30:00-05:00"},
		{"repeated 01:30 runs once: first pass", "30 1 * * *", "2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00"},
		{"repeated 01:30 runs once: not again", "30 1 * * *", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
		// cronsim answers 01:30 EDT here, 22 minutes *before* the ping; see nextWall.
		{"ping in the second 01:xx hour", "30 1 * * *", "2026-11-01T01:08:00-05:00", "2026-11-02T01:30:00-05:00"},
		{"hourly skips the missing 02:00", "0 * * * *", "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"},
		{"hourly runs both 01:00s", "0 * * * *", "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"},
		{"hourly after the second 01:00", "0 * * * *", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"},
		{"every 15 min over the gap", "*/15 * * * *", "2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00"},
		{"every 15 min into the repeat", "*/15 * * * *", "2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00"},
		{"every 15 min in the repeat", "*/15 * * * *", "2026-11-01T01:15:00-05:00", "2026-11-01T01:30:00-05:00"},
	} {
		sp := mustCompile(t, Config{Kind: Cron, Schedule: c.sched, TZ: "America/New_York"})
		after, _ := time.Parse(time.RFC3339, c.after)
		want, _ := time.Parse(time.RFC3339, c.want)
		if got := sp.nextCron(after); !got.Equal(want) {
			t.Errorf("%s: %q after %s: got %s want %s", c.name, c.sched, c.after, got.In(ny).Format(time.RFC3339), c.want)
		}
	}
}

// Zones whose transitions stress other paths: a skipped midnight, a skipped day,
// a half-hour shift, a two-hour shift.
func TestCronDSTOddZones(t *testing.T) {
	for _, c := range []struct {
		name, sched, tz, after, want string
	}{
		{"no midnight: runs at the jump (robfig skips the day)", "0 0 * * *", "America/Havana", "2026-03-07T00:00:00-05:00", "2026-03-08T01:00:00-04:00"},
		{"no midnight, Sao Paulo 2018", "0 0 * * *", "America/Sao_Paulo", "2018-11-03T00:00:00-03:00", "2018-11-04T01:00:00-02:00"},
		{"skipped 2011-12-30 (robfig never returns)", "0 0 * * 0", "Pacific/Apia", "2011-12-28T22:00:37-10:00", "2012-01-01T00:00:00+14:00"},
		{"skipped day, daily job", "0 12 * * *", "Pacific/Apia", "2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00"},
		// Lord Howe falls back 02:00+11 → 01:30+10:30, so 02:00+10:30 is a real,
		// single instant half an hour after the jump. cronsim's hour stepping
		// lands on 02:30 here; Debian cron would run at 02:00.
		{"half-hour shift", "* 2 * * *", "Australia/Lord_Howe", "2026-04-04T03:00:00+11:00", "2026-04-05T02:00:00+10:30"},
		{"half-hour gap", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T02:15:00+10:30", "2026-10-04T02:30:00+11:00"},
		{"two-hour shift (Troll +00→+02)", "30 1 * * *", "Antarctica/Troll", "2026-03-28T01:30:00+00:00", "2026-03-29T03:00:00+02:00"},
		{"fixed offset zone", "30 2 * * *", "Asia/Kolkata", "2026-03-08T02:30:00+05:30", "2026-03-09T02:30:00+05:30"},
	} {
		sp := mustCompile(t, Config{Kind: Cron, Schedule: c.sched, TZ: c.tz})
		after, _ := time.Parse(time.RFC3339, c.after)
		want, _ := time.Parse(time.RFC3339, c.want)
		if got := sp.nextCron(after); !got.Equal(want) {
			t.Errorf("%s: %q after %s: got %s want %s", c.name, c.sched, c.after, got.In(sp.loc).Format(time.RFC3339), c.want)
		}
	}
}

// robfig/cron v3.0.1 evaluating the schedule in the zone itself (CRON_TZ= or
// SpecSchedule.Location), which this package deliberately does not do. Pinned
// here so that doc.go's claims stay true; it also never returns for Apia's
// 2011-12-30 (not run here: the goroutine would spin forever).
func TestRobfigNativeDSTIsWrong(t *testing.T) {
	ny := loc(t, "America/New_York")
	for _, c := range []struct {
		name, sched, after, robfig string
	}{
		// Debian runs 01:30 once; a deadline 1h after a punctual run is a false down.
		{"fires twice in the repeated hour", "30 1 * * *", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"},
		// Debian runs it at 03:00 on the 8th; a missed run that day goes unnoticed.
		{"skips the day of spring-forward", "30 2 * * *", "2026-03-07T02:30:00-05:00", "2026-03-09T02:30:00-04:00"},
	} {
		r, err := cron.ParseStandard("CRON_TZ=America/New_York " + c.sched)
		if err != nil {
			t.Fatal(err)
		}
		after, _ := time.Parse(time.RFC3339, c.after)
		want, _ := time.Parse(time.RFC3339, c.robfig)
		if got := r.Next(after); !got.Equal(want) {
			t.Errorf("%s: robfig now gives %s (was %s): revisit doc.go", c.name, got.In(ny).Format(time.RFC3339), c.robfig)
		}
	}
}

// debianRuns brute-forces, minute by real minute, when Debian cron would start
// a job in [from, to): schedules with a fixed minute and hour run once per wall
// time, at its first occurrence, and those skipped by a jump run right after
// it; others run at every real minute whose wall clock matches. It shares only
// the parsed bit sets with the code under test.
func debianRuns(sp Spec, from, to time.Time) []time.Time {
	matches := func(w time.Time) bool {
		s := sp.sched
		if s.Minute&(1<<w.Minute()) == 0 || s.Hour&(1<<w.Hour()) == 0 || s.Month&(1<<int(w.Month())) == 0 {
			return false
		}
		dom, dow := s.Dom&(1<<w.Day()) != 0, s.Dow&(1<<int(w.Weekday())) != 0
		if s.Dom&starBit != 0 || s.Dow&starBit != 0 {
			return dom && dow
		}
		return dom || dow
	}
	var out []time.Time
	add := func(r time.Time) {
		if len(out) == 0 || !out[len(out)-1].Equal(r) {
			out = append(out, r)
		}
	}
	ran := map[time.Time]bool{}
	from = from.Truncate(mins)
	prev := wallOf(from.Add(-mins).In(sp.loc))
	for r := from; r.Before(to); r = r.Add(mins) {
		w := wallOf(r.In(sp.loc))
		if sp.wall {
			for m := prev.Add(mins); m.Before(w); m = m.Add(mins) {
				if matches(m) && !ran[m] {
					ran[m] = true
					add(r)
				}
			}
			if matches(w) && !ran[w] {
				ran[w] = true
				add(r)
			}
		} else if matches(w) {
			add(r)
		}
		prev = w
	}
	return out
}

// The DST guarantee: around real transitions, for schedules of every shape,
// (1) the next expected time from any instant is the next time Debian cron
// would actually run the job, and (2) a check pinged 30s after every run, with
// every timer delivered on time, never goes down and always shows the next run
// as next_ping.
func TestCronDSTNoFalseDown(t *testing.T) {
	transitions := map[string][]string{
		"America/New_York":    {"2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z"},
		"Europe/Riga":         {"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"},
		"Europe/London":       {"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"},
		"Australia/Sydney":    {"2026-04-04T16:00:00Z", "2026-10-03T16:00:00Z"},
		"Australia/Lord_Howe": {"2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z"},
		"America/Havana":      {"2026-03-08T05:00:00Z", "2026-11-01T05:00:00Z"},
		"America/Sao_Paulo":   {"2018-11-04T03:00:00Z", "2019-02-17T02:00:00Z"},
		"Asia/Tehran":         {"2021-03-21T20:30:00Z", "2021-09-21T19:30:00Z"},
		"Antarctica/Troll":    {"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z"},
		"Pacific/Apia":        {"2011-12-30T10:00:00Z"},
	}
	scheds := []string{"30 2 * * *", "0 * * * *", "*/15 * * * *", "30 1 * * *", "0 0 * * *", "15 3 * * *",
		"0 1-5 * * *", "* 2 * * *", "0 */2 * * *", "0,30 1-3 * * *", "30 */2 * * *", "*/7 */5 * * *", "45 23 * * *", "0 12 * * *"}
	for tz, trs := range transitions {
		for _, tr := range trs {
			T, _ := time.Parse(time.RFC3339, tr)
			from, to := T.Add(-30*hr), T.Add(30*hr)
			for _, sc := range scheds {
				spec := mustCompile(t, Config{Kind: Cron, Schedule: sc, TZ: tz, Grace: 2 * mins})
				runs := debianRuns(spec, from, to)
				if len(runs) < 2 {
					t.Fatalf("%s %s: only %d runs", tz, sc, len(runs))
				}
				// (1) next from every instant, 7 minutes apart plus some seconds
				j := 0
				for x := from.Add(13 * sec); x.Before(runs[len(runs)-1]); x = x.Add(7*mins + 3*sec) {
					for !runs[j].After(x) {
						j++
					}
					if got := spec.nextCron(x); !got.Equal(runs[j]) {
						t.Errorf("%s %q after %s: got %s, Debian runs at %s", tz, sc,
							x.In(spec.loc).Format(time.RFC3339), got.In(spec.loc).Format(time.RFC3339), runs[j].In(spec.loc).Format(time.RFC3339))
						break
					}
				}
				// (2) drive the state machine
				var s State
				for i, r := range runs {
					ping := r.Add(30 * sec)
					for !s.Deadline.IsZero() && !s.Deadline.After(ping) {
						s, _ = Apply(spec, s, Event{Kind: Timer}, s.Deadline)
						if s.Status == Down {
							t.Fatalf("%s %q: down at %s before the ping after the run at %s", tz, sc,
								s.Deadline.In(spec.loc), r.In(spec.loc).Format(time.RFC3339))
						}
					}
					s, _ = Apply(spec, s, Event{Kind: Success}, ping)
					if i+1 < len(runs) {
						if np := NextPing(spec, s); !np.Equal(runs[i+1]) {
							t.Errorf("%s %q: next_ping after %s is %s, next run %s", tz, sc,
								ping.In(spec.loc).Format(time.RFC3339), np.In(spec.loc).Format(time.RFC3339), runs[i+1].In(spec.loc).Format(time.RFC3339))
						}
					}
				}
			}
		}
	}
}

func BenchmarkApplyCronPing(b *testing.B) {
	spec := mustCompile(b, Config{Kind: Cron, Schedule: "*/15 * * * *", TZ: "Europe/Riga", Grace: 5 * mins})
	s := State{Status: Up, LastPing: t0, NPings: 1}
	now := t0
	for b.Loop() {
		now = now.Add(15 * mins)
		s, _ = Apply(spec, s, Event{Kind: Success}, now)
	}
}
