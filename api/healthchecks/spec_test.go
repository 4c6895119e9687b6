package healthchecks

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Nightly DB Backup": "nightly-db-backup",
		"  Weekly Report! ": "weekly-report",
		"a - . - b":         "a-b",
		"__x__":             "x",
		"Ünïcode 2":         "ncode-2",
		"":                  "",
		"already-a_slug":    "already-a_slug",
		"tabs\tand  spaces": "tabs-and-spaces",
	} {
		if got := slugify(in); got != want {
			t.Errorf("slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeSpec(t *testing.T) {
	lim := limits{time.Minute, 365 * 24 * time.Hour}
	cases := []struct {
		body string
		err  string // substring; "" = valid
	}{
		{`{}`, ""},
		{``, ""},
		{`{"name": "x", "timeout": 60, "grace": 31536000, "unique": ["name"], "unknown": {"a": 1}}`, ""},
		{`{"timeout": 59}`, "timeout is too small"},
		{`{"grace": 31536001}`, "grace is too large"},
		{`{"timeout": "60"}`, "timeout is not a number"},
		{`{"timeout": 60.5}`, "timeout is not an integer"},
		{`{"name": null}`, "name is not a string"},
		{`{"manual_resume": 1}`, "manual_resume is not a boolean"},
		{`{"unique": "name"}`, "unique is not an array"},
		{`{"unique": ["desc"]}`, "unsupported value"},
		{`{"slug": "A"}`, "slug must match"},
		{`{"methods": "GET"}`, "methods must be"},
		{`{"name": "` + strings.Repeat("x", 101) + `"}`, "name is too long"},
		{`[]`, "not an object"},
		{`{"a":`, "could not parse"},
	}
	for _, tc := range cases {
		_, err := decodeSpec([]byte(tc.body), lim)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.body, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.err)
		}
	}
}

// uniqueKey must match Healthchecks.io's sha1(uuid.hex[:16]); the vectors are the
// seed document's own examples.
func TestUniqueKey(t *testing.T) {
	for id, want := range map[string]string{
		"31365bce-8da9-4729-8ff3-aaa71d56b712": "a6c7b0a8a66bed0df66abfdab3c77736861703ee",
		"803f680d-e89b-492b-82ef-2be7b774a92d": "124f983e0e3dcaeba921cfcef46efd084576e783",
	} {
		if got := uniqueKey(uuid.MustParse(id)); got != want {
			t.Errorf("uniqueKey(%s) = %s, want %s", id, got, want)
		}
	}
}
