package wire

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine/store"
)

func TestObject(t *testing.T) {
	o, f := DecodeObject([]byte(`{"s": "héllo", "n": 5, "ns": "6", "f": 7.0, "frac": 1.5, "b": true, "bs": "true",
		"null": null, "list": ["a", "b"], "obj": {"id": 3}, "big": 1e30}`))
	if f != nil {
		t.Fatal(f)
	}
	if s := o.String("s", 5); s == nil || *s != "héllo" {
		t.Fatalf("string within 5 characters (6 bytes): %v", s)
	}
	if n := o.Int("n", false); n == nil || *n != 5 {
		t.Fatal("int")
	}
	if n := o.Int("ns", true); n == nil || *n != 6 {
		t.Fatal("lenient int from a string")
	}
	if n := o.Int("f", false); n == nil || *n != 7 {
		t.Fatal("7.0 is an integer")
	}
	if b := o.Bool("b"); b == nil || !*b {
		t.Fatal("bool")
	}
	if l, ok := o.Strings("list", 2, 1); !ok || len(l) != 2 {
		t.Fatal("strings")
	}
	if o.String("null", 0) != nil || !o.IsNull("null") || !o.Has("null") || o.Has("absent") || o.String("absent", 0) != nil {
		t.Fatal("null and absent")
	}
	if o.Failure("x") != nil {
		t.Fatalf("problems so far: %v", o.Failure("x"))
	}
	// Each wrong field is a problem under its name; reading goes on.
	o.String("s", 4)
	o.String("n", 0)
	o.Int("ns", false)
	o.Int("frac", true)
	o.Int("big", true)
	o.Bool("bs")
	o.Strings("list", 1, 0)
	o.Strings("s", 0, 0)
	o.Object("obj").String("id", 0)
	o.Object("n")
	f = o.Failure("bad")
	if f == nil || f.Kind != Invalid || f.Status() != 422 {
		t.Fatalf("failure: %+v", f)
	}
	var got []string
	for _, p := range f.Fields {
		got = append(got, p.Field)
	}
	if want := "s n ns frac big bs list s obj.id n"; strings.Join(got, " ") != want {
		t.Fatalf("fields %q, want %q", got, want)
	}
	fields, problems := f.ByField()
	if len(fields) != 8 || len(problems["s"]) != 2 || len(problems["n"]) != 2 {
		t.Fatalf("by field: %v %v", fields, problems)
	}

	if o, f := DecodeObject([]byte("  ")); f != nil || o.Has("x") {
		t.Fatal("an empty body is an empty object")
	}
	if _, f := DecodeObject([]byte(`{"a": `)); f == nil || f.Kind != BadRequest {
		t.Fatalf("not JSON: %v", f)
	}
	if _, f := DecodeObject([]byte(`[1]`)); f == nil || f.Kind != Invalid {
		t.Fatalf("not an object: %v", f)
	}
}

func TestPage(t *testing.T) {
	args := func(q string) *fasthttp.Args {
		var a fasthttp.Args
		a.Parse(q)
		return &a
	}
	p, f := ParsePage(args(""), 50, 250)
	if f != nil || p != (Page{1, 50}) {
		t.Fatalf("defaults: %+v %v", p, f)
	}
	if p, _ = ParsePage(args("per_page=1000&page=2"), 50, 250); p != (Page{2, 250}) {
		t.Fatalf("capped: %+v", p)
	}
	for _, q := range []string{"page=0", "per_page=x", "page=-1", "per_page=1.5"} {
		if _, f := ParsePage(args(q), 50, 250); f == nil || f.Kind != Invalid || len(f.Fields) != 1 {
			t.Errorf("%s: %v", q, f)
		}
	}
	for _, tc := range []struct {
		page, size, total, lo, hi, pages int
		prev, next                       string
	}{
		{1, 2, 5, 0, 2, 3, "", "2"},
		{2, 2, 5, 2, 4, 3, "1", "3"},
		{3, 2, 5, 4, 5, 3, "2", ""},
		{9, 2, 5, 5, 5, 3, "3", ""},
		{1, 50, 0, 0, 0, 1, "", ""},
	} {
		p := Page{tc.page, tc.size}
		lo, hi := p.Window(tc.total)
		l := p.Links("http://x/list", tc.total)
		at := func(n string) string { return fmt.Sprintf("http://x/list?per_page=%d&page=%s", tc.size, n) }
		str := func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		}
		wantPrev, wantNext := "", ""
		if tc.prev != "" {
			wantPrev = at(tc.prev)
		}
		if tc.next != "" {
			wantNext = at(tc.next)
		}
		if lo != tc.lo || hi != tc.hi || p.Pages(tc.total) != tc.pages || l.First != at("1") ||
			l.Last != at(fmt.Sprint(tc.pages)) || str(l.Prev) != wantPrev || str(l.Next) != wantNext {
			t.Errorf("%+v: window [%d,%d) links %+v", tc, lo, hi, l)
		}
	}
}

type keys map[string]bool // key → read-only

func (k keys) Authenticate(key string) (uuid.UUID, bool, bool) {
	ro, ok := k[key]
	return uuid.Nil, ro, ok
}

func TestAuth(t *testing.T) {
	a := Auth{Scheme: "GenieKey", Keys: keys{"rw": false, "ro": true}}
	for _, tc := range []struct {
		header string
		need   Access
		want   Kind // 0: allowed
	}{
		{"GenieKey rw", Write, 0},
		{"geniekey  rw ", Write, 0},
		{"GenieKey ro", Read, 0},
		{"GenieKey ro", Write, Forbidden},
		{"", Read, Unauthenticated},
		{"GenieKey", Read, Unauthenticated},
		{"Bearer rw", Read, Unauthenticated},
		{"GenieKey nope", Read, Unauthenticated},
	} {
		var ctx fasthttp.RequestCtx
		if tc.header != "" {
			ctx.Request.Header.Set("Authorization", tc.header)
		}
		c, f := a.Check(&ctx, tc.need)
		switch {
		case tc.want == 0 && f != nil, tc.want != 0 && (f == nil || f.Kind != tc.want):
			t.Errorf("%q need %d: %v, want kind %d", tc.header, tc.need, f, tc.want)
		case tc.want == 0 && c.ReadOnly != (tc.header == "GenieKey ro"):
			t.Errorf("%q: caller %+v", tc.header, c)
		}
	}
}

func TestFromBackend(t *testing.T) {
	if f := FromBackend(fmt.Errorf("lookup: %w", store.ErrNotFound)); f.Kind != NotFound || f.Status() != 404 {
		t.Fatalf("not found: %+v", f)
	}
	own := Failf(Conflict, "taken")
	if f := FromBackend(fmt.Errorf("wrapped: %w", own)); f != own {
		t.Fatalf("a failure stays itself: %+v", f)
	}
	if f := FromBackend(errors.New("disk full")); f.Kind != Unavailable || f.Status() != 503 {
		t.Fatalf("other errors: %+v", f)
	}
}

func TestPeriods(t *testing.T) {
	p := Periods{}.WithDefaults()
	if p.MinPeriod != time.Minute || p.MaxPeriod != 365*24*time.Hour || p.Validate() != nil {
		t.Fatalf("defaults %+v: %v", p, p.Validate())
	}
	for _, bad := range []Periods{{MinPeriod: time.Millisecond, MaxPeriod: time.Hour}, {MinPeriod: time.Hour, MaxPeriod: time.Minute}} {
		if bad.Validate() == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}
