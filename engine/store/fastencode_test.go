package store

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wires returns a check, a ping and a flip wire with every field set from seed,
// with the ints scaled by scale (so heads of every width are covered) and the
// strings n bytes long when n > 0.
func wires(seed int, scale int64, n int) (checkWire, pingWire, flipWire) {
	var c checkWire
	var p pingWire
	var f flipWire
	for _, w := range []any{&c, &p, &f} {
		v := reflect.ValueOf(w).Elem()
		fill(v, seed)
		for i := range v.NumField() {
			switch fv := v.Field(i); fv.Kind() {
			case reflect.Int, reflect.Int64:
				fv.SetInt(fv.Int() * scale)
			case reflect.Uint64:
				fv.SetUint(fv.Uint() * uint64(max(scale, -scale)))
			case reflect.String:
				if n > 0 {
					fv.SetString(strings.Repeat("é", n/2) + fv.String()[:n%2])
				}
			}
		}
	}
	c.Dialect = nil
	return c, p, f
}

// checkFast compares each fast encoding of the three wires with the library's.
func checkFast(t *testing.T, c *checkWire, p *pingWire, f *flipWire) {
	t.Helper()
	got, ok := appendCheckFast(nil, c)
	if !ok {
		t.Fatalf("check %+v not encoded", *c)
	}
	for _, x := range []struct {
		what string
		got  []byte
		v    any
	}{
		{"check", got, c},
		{"ping", appendPingFast(nil, p), p},
		{"flip", appendFlipFast(nil, f), f},
	} {
		want, err := encMode.Marshal(x.v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.got, want) {
			t.Fatalf("%s %+v:\nfast %x\n lib %x", x.what, x.v, x.got, want)
		}
	}
}

// TestFastEncodeMatchesLibrary: every field set, none set, and integers and
// strings at each head width, negative and positive.
func TestFastEncodeMatchesLibrary(t *testing.T) {
	var c checkWire
	var p pingWire
	var f flipWire
	checkFast(t, &c, &p, &f) // all zero: only the fields without omitempty
	for seed := range 4 {
		for _, scale := range []int64{0, 1, -1, 7, -300, 70_000, -5_000_000_000, math.MaxInt64 / 1_000_000_000} {
			for _, n := range []int{0, 1, 23, 24, 255, 256, 65_535, 65_536} {
				c, p, f := wires(seed, scale, n)
				checkFast(t, &c, &p, &f)
			}
		}
	}
	c, p, f = wires(1, 1, 0)
	c.Timeout, c.Deadline, p.Time, f.Time = math.MinInt64, math.MaxInt64, math.MinInt64, math.MaxInt64
	c.NPings = math.MaxUint64
	checkFast(t, &c, &p, &f)
}

// A check with Dialect attributes is left to the library, and so encodes
// as before.
func TestFastEncodeLeavesDialect(t *testing.T) {
	c := testCheck([16]byte{1}, 1)
	c.Dialect = &DialectAttrs{}
	fill(reflect.ValueOf(c.Dialect).Elem(), 3)
	var w checkWire
	w.from(c)
	if _, ok := appendCheckFast(nil, &w); ok {
		t.Fatal("a check with Dialect attributes took the fast path")
	}
	got, err := EncodeCheck(c)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := encMode.Marshal(&w)
	if !bytes.Equal(got, want) {
		t.Fatalf("EncodeCheck %x, library %x", got, want)
	}
	back, err := DecodeCheck(got)
	if err != nil || !reflect.DeepEqual(back.Dialect, c.Dialect) {
		t.Fatalf("decoded %+v, %v", back, err)
	}
}

func FuzzFastEncode(f *testing.F) {
	f.Add(int64(0), uint64(0), "", "", false)
	f.Add(int64(-1), uint64(24), "up", strings.Repeat("x", 300), true)
	f.Add(int64(time.Hour), uint64(math.MaxUint32)+1, "down", "é", false)
	f.Fuzz(func(t *testing.T, i int64, u uint64, s1, s2 string, b bool) {
		c := checkWire{ID: [16]byte{byte(i)}, Name: s1, Kind: s2, Status: s1, Timeout: time.Duration(i),
			Grace: time.Duration(-i), Created: i, LastPing: -i, NPings: u, ManualResume: b, Tags: s2}
		p := pingWire{N: u, Kind: s1, Time: i, UA: s2, ExitStatus: int(i), Duration: time.Duration(i)}
		fl := flipWire{Time: i, From: s1, To: s2}
		checkFast(t, &c, &p, &fl)
	})
}

// BenchmarkEncodeCheckLibrary is BenchmarkEncodeCheck through the library,
// the encoder the fast path replaced.
func BenchmarkEncodeCheckLibrary(b *testing.B) {
	c := benchCheck()
	var w checkWire
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		w.from(c)
		buf.Reset()
		if err := encMode.MarshalToBuffer(&w, &buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
}
