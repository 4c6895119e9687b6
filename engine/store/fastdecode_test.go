package store

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// fill sets every field of v (recursively through pointers, slices and
// structs) to a non-zero value derived from seed.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed)*1_000_003 - 500)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed) + 1)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), seed+i)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range v.Len() {
			fill(v.Index(i), seed+i)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), seed+i)
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

// libDecode is decodeCheck without the fast path.
func libDecode(data []byte) (*checkWire, error) {
	w := new(checkWire)
	return w, decMode.Unmarshal(data, w)
}

// TestDecodeCheckFastCoversEveryField: a record with every field set takes
// the fast path and reads as the library reads it.
func TestDecodeCheckFastCoversEveryField(t *testing.T) {
	for seed := range 3 {
		var w checkWire
		fill(reflect.ValueOf(&w).Elem(), seed)
		var fast checkWire
		data, err := encMode.Marshal(&w)
		if err != nil {
			t.Fatal(err)
		}
		if !decodeCheckFast(data, &fast) {
			t.Fatalf("a fully populated check does not take the fast path (a field missing in decodeCheckFast?)\n%x", data)
		}
		lib, err := libDecode(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&fast, lib) || !reflect.DeepEqual(&fast, &w) {
			t.Fatalf("fast %+v\n lib %+v\nwant %+v", fast, *lib, w)
		}
	}
	// And the zero check, and a typical one.
	for _, c := range []*Check{{}, testCheck(uuid.New(), 1)} {
		data, _ := EncodeCheck(c)
		var fast checkWire
		if !decodeCheckFast(data, &fast) {
			t.Fatalf("%+v does not take the fast path", c)
		}
	}
}

func TestDecodeCheckFastFallsBack(t *testing.T) {
	c := testCheck(uuid.New(), 1)
	good, _ := EncodeCheck(c)
	for name, data := range map[string][]byte{
		"trailing":      append(append([]byte{}, good...), 0),
		"truncated":     good[:len(good)-1],
		"unknown key":   {0xa1, 0x18, 0x63, 0x01},                 // {99: 1}
		"duplicate key": {0xa2, 0x03, 0x61, 'a', 0x03, 0x61, 'b'}, // {3: "a", 3: "b"}
		"null":          {0xa1, 0x03, 0xf6},                       // {3: null}
		"indefinite":    {0xbf, 0x03, 0x61, 'a', 0xff},
		"short id":      {0xa1, 0x01, 0x41, 0x00},
		"big int":       {0xa1, 0x08, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"text key":      {0xa1, 0x61, 'x', 0x01},
		"not a map":     {0x01},
		"empty":         {},
	} {
		var w checkWire
		if decodeCheckFast(data, &w) {
			t.Errorf("%s: took the fast path", name)
		}
	}
	// Duplicate keys: the library keeps the first; so does decodeCheck.
	got, err := DecodeCheck([]byte{0xa2, 0x03, 0x61, 'a', 0x03, 0x61, 'b'})
	if err != nil || got.Name != "a" {
		t.Fatalf("duplicate key: %v %q", err, got.Name)
	}
}

// FuzzDecodeCheckFast: whenever the fast path accepts a record, the library
// accepts it too and reads the same values.
func FuzzDecodeCheckFast(f *testing.F) {
	for seed := range 3 {
		var w checkWire
		fill(reflect.ValueOf(&w).Elem(), seed)
		data, _ := encMode.Marshal(&w)
		f.Add(data)
	}
	c := testCheck(uuid.New(), 1)
	data, _ := EncodeCheck(c)
	f.Add(data)
	data, _ = EncodeCheck(&Check{})
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast checkWire
		if !decodeCheckFast(data, &fast) {
			return
		}
		lib, err := libDecode(data)
		if err != nil {
			t.Fatalf("fast path accepted what the library rejects (%v): %x", err, data)
		}
		if !reflect.DeepEqual(&fast, lib) {
			t.Fatalf("fast %+v\n lib %+v\n%x", fast, *lib, data)
		}
	})
}
