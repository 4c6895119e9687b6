package healthchecks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// spec is a create or update request: every field optional, nil when absent.
type spec struct {
	APIKey       *string
	Name         *string
	Slug         *string
	Tags         *string
	Desc         *string
	Timeout      *time.Duration
	Grace        *time.Duration
	Schedule     *string
	TZ           *string
	ManualResume *bool
	Channels     *string
	// channelIDs is Channels resolved against the project's channels by parse:
	// "*" is every channel it has now, as Healthchecks.io assigns them.
	channelIDs string
	Methods    *string
	Unique     []string
}

// limits of the fields, as Healthchecks.io's schema.
type limits struct {
	minPeriod, maxPeriod time.Duration
}

// decodeSpec parses body strictly by type, as Healthchecks.io's pydantic schema in
// strict mode: a wrong type, or null, is an error naming the field; unknown fields
// are ignored.
func decodeSpec(body []byte, lim limits) (spec, error) {
	var sp spec
	if len(bytes.TrimSpace(body)) == 0 {
		return sp, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var arr []any
		if json.Unmarshal(body, &arr) == nil || !json.Valid(body) {
			if json.Valid(body) {
				return sp, fmt.Errorf("json validation error: value is not an object")
			}
			return sp, fmt.Errorf("could not parse request body")
		}
		return sp, fmt.Errorf("json validation error: value is not an object")
	}
	str := func(key string, max int) (*string, error) {
		v, ok := raw[key]
		if !ok {
			return nil, nil
		}
		var s string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return nil, fmt.Errorf("json validation error: %s is not a string", key)
		}
		if max > 0 && len([]rune(s)) > max {
			return nil, fmt.Errorf("json validation error: %s is too long (at most %d characters)", key, max)
		}
		return &s, nil
	}
	period := func(key string) (*time.Duration, error) {
		v, ok := raw[key]
		if !ok {
			return nil, nil
		}
		var n json.Number
		// json.Number also takes a quoted number; strict typing refuses "60".
		if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') || json.Unmarshal(v, &n) != nil {
			return nil, fmt.Errorf("json validation error: %s is not a number", key)
		}
		i, err := n.Int64()
		if err != nil {
			return nil, fmt.Errorf("json validation error: %s is not an integer", key)
		}
		d := time.Duration(i) * time.Second
		if i < 0 || d < lim.minPeriod {
			return nil, fmt.Errorf("json validation error: %s is too small (minimum %d)", key, int64(lim.minPeriod/time.Second))
		}
		if d > lim.maxPeriod {
			return nil, fmt.Errorf("json validation error: %s is too large (maximum %d)", key, int64(lim.maxPeriod/time.Second))
		}
		return &d, nil
	}
	var err error
	if sp.APIKey, err = str("api_key", 0); err != nil {
		return sp, err
	}
	for _, f := range []struct {
		key string
		dst **string
		max int
	}{
		{"name", &sp.Name, 100}, {"slug", &sp.Slug, 100}, {"tags", &sp.Tags, 500},
		{"desc", &sp.Desc, 10000}, {"schedule", &sp.Schedule, 100}, {"tz", &sp.TZ, 64},
		{"channels", &sp.Channels, 0}, {"methods", &sp.Methods, 0},
	} {
		if *f.dst, err = str(f.key, f.max); err != nil {
			return sp, err
		}
	}
	if sp.Timeout, err = period("timeout"); err != nil {
		return sp, err
	}
	if sp.Grace, err = period("grace"); err != nil {
		return sp, err
	}
	if v, ok := raw["manual_resume"]; ok {
		var b bool
		if len(v) == 0 || (v[0] != 't' && v[0] != 'f') || json.Unmarshal(v, &b) != nil {
			return sp, fmt.Errorf("json validation error: manual_resume is not a boolean")
		}
		sp.ManualResume = &b
	}
	if v, ok := raw["unique"]; ok {
		if err := json.Unmarshal(v, &sp.Unique); err != nil || v[0] != '[' {
			return sp, fmt.Errorf("json validation error: unique is not an array of strings")
		}
		for _, u := range sp.Unique {
			switch u {
			case "name", "slug", "tags", "timeout", "grace":
			default:
				return sp, fmt.Errorf("json validation error: unique has an unsupported value %q", u)
			}
		}
	}
	if sp.Slug != nil && !validSlug(*sp.Slug) {
		return sp, fmt.Errorf("json validation error: slug must match ^[a-z0-9-_]*$")
	}
	if sp.Methods != nil && *sp.Methods != "" && *sp.Methods != "POST" {
		return sp, fmt.Errorf("json validation error: methods must be \"\" or \"POST\"")
	}
	return sp, nil
}

func validSlug(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// slugify mirrors Django's slugify, which Healthchecks.io uses to derive a slug from
// a name in API v1 and v2: lower case, only letters, digits, '-' and '_', runs of
// spaces and dashes become one dash, and no dash or underscore at either end.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'):
			b.WriteRune(r)
			dash = false
		case r == ' ' || r == '-' || r == '\t':
			if !dash {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.Trim(b.String(), "-_")
}

// splitTags splits a space-separated tag list.
func splitTags(tags string) []string { return strings.Fields(tags) }
