package opsgenie

import (
	"testing"
	"time"

	"github.com/vigilo/vigilo/engine/store"
)

func TestInterval(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		unit    string // stored unit, if any
		n       int64
		want    string
	}{
		{10 * time.Minute, "", 10, "minutes"},
		{2 * time.Hour, "", 2, "hours"},
		{3 * 24 * time.Hour, "", 3, "days"},
		{60 * time.Minute, "minutes", 60, "minutes"}, // as it was given
		{90 * time.Minute, "hours", 90, "minutes"},   // the given unit no longer divides it
		{90 * time.Second, "", 2, "minutes"},         // rounded up: Opsgenie has no seconds
		{time.Second, "", 1, "minutes"},
	} {
		c := &store.Check{Timeout: tc.timeout}
		if tc.unit != "" {
			c.Dialect = &store.DialectAttrs{IntervalUnit: tc.unit}
		}
		if n, unit := interval(c); n != tc.n || unit != tc.want {
			t.Errorf("%v (%q): %d %s, want %d %s", tc.timeout, tc.unit, n, unit, tc.n, tc.want)
		}
	}
	if s := spell(365 * 24 * time.Hour); s != "365 days" {
		t.Errorf("spell: %s", s)
	}
	if s := spell(90 * time.Second); s != "1m30s" {
		t.Errorf("spell: %s", s)
	}
}
