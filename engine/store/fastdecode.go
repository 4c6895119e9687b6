package store

import (
	"encoding/binary"
	"math"
	"strings"
	"time"
)

// A hand-written decoder for the check records that codec.go's EncMode writes:
// the restart path decodes a million of them, and fxamacker/cbor's
// reflection-driven decoding (a well-formedness pass, a field lookup per key,
// per-element copies of byte arrays, an allocation for every string) is most
// of the cost of AllChecks.
//
// It is deliberately partial: it accepts exactly the shapes our encoder
// produces — a definite-length map with unsigned keys; definite-length text
// strings, 16-byte byte strings, integers and booleans in the fields of those
// types — and reports false on anything else (an unknown key, a null, a tag,
// an indefinite length, an integer out of range, a duplicate key, trailing
// bytes); the caller then decodes the record with the library. So it never
// reads a record differently from the library (FuzzDecodeCheckFast checks
// that), and a field added to checkWire but not here only costs speed
// (TestDecodeCheckFastCoversEveryField catches that). The Dialect field (40)
// is handed to the library on its own.

// cborHead reads a data item's head: major type, argument, and the rest of
// the input. ok is false for reserved or indefinite-length heads.
func cborHead(d []byte) (major byte, arg uint64, rest []byte, ok bool) {
	if len(d) == 0 {
		return 0, 0, nil, false
	}
	major, ai := d[0]>>5, d[0]&0x1f
	d = d[1:]
	switch {
	case ai < 24:
		return major, uint64(ai), d, true
	case ai == 24 && len(d) >= 1:
		return major, uint64(d[0]), d[1:], true
	case ai == 25 && len(d) >= 2:
		return major, uint64(binary.BigEndian.Uint16(d)), d[2:], true
	case ai == 26 && len(d) >= 4:
		return major, uint64(binary.BigEndian.Uint32(d)), d[4:], true
	case ai == 27 && len(d) >= 8:
		return major, binary.BigEndian.Uint64(d), d[8:], true
	}
	return 0, 0, nil, false
}

// cborBytes reads a definite-length string of the given major type (2 or 3).
func cborBytes(d []byte, major byte) (s, rest []byte, ok bool) {
	m, n, d, ok := cborHead(d)
	if !ok || m != major || n > uint64(len(d)) {
		return nil, nil, false
	}
	return d[:n], d[n:], true
}

// cborInt64 reads an integer that fits an int64.
func cborInt64(d []byte) (v int64, rest []byte, ok bool) {
	m, n, d, ok := cborHead(d)
	if !ok || n > math.MaxInt64 {
		return 0, nil, false
	}
	switch m {
	case 0:
		return int64(n), d, true
	case 1:
		return -1 - int64(n), d, true
	}
	return 0, nil, false
}

// decodeCheckFast decodes data into w (which must be zero) and reports
// whether it could; on false, w is garbage and the caller must use the
// library.
func decodeCheckFast(data []byte, w *checkWire) bool {
	m, n, d, ok := cborHead(data)
	if !ok || m != 5 || n > uint64(len(d)) {
		return false
	}
	var seen uint64 // keys seen: the library keeps the first of duplicates
	// The check's other strings are made with one allocation, at the end.
	var strs [8]pendingString
	nstrs, total := 0, 0
	for range n {
		var key uint64
		if m, key, d, ok = cborHead(d); !ok || m != 0 || key >= 64 || seen&(1<<key) != 0 {
			return false
		}
		seen |= 1 << key
		var s []byte
		var i int64
		switch key {
		case 1, 2: // ID, ProjectID
			if s, d, ok = cborBytes(d, 2); !ok || len(s) != 16 {
				return false
			}
			if key == 1 {
				w.ID = [16]byte(s)
			} else {
				w.ProjectID = [16]byte(s)
			}
		case 3, 4, 5, 6, 7, 10, 11, 13, 15, 20, 23: // strings
			if s, d, ok = cborBytes(d, 3); !ok {
				return false
			}
			switch key {
			case 7:
				w.Kind = internBytes(s)
			case 15:
				w.Methods = internBytes(s)
			case 20:
				w.Status = internBytes(s)
			default:
				if len(s) > 0 {
					strs[nstrs] = pendingString{stringField(w, key), s}
					nstrs++
					total += len(s)
				}
			}
		case 8, 9, 14, 21, 22, 24, 25: // int64s
			if i, d, ok = cborInt64(d); !ok {
				return false
			}
			switch key {
			case 8:
				w.Timeout = time.Duration(i)
			case 9:
				w.Grace = time.Duration(i)
			case 14:
				w.Created = i
			case 21:
				w.LastPing = i
			case 22:
				w.LastStart = i
			case 24:
				w.LastDuration = time.Duration(i)
			case 25:
				w.Deadline = i
			}
		case 12: // ManualResume
			if len(d) == 0 || (d[0] != 0xf4 && d[0] != 0xf5) {
				return false
			}
			w.ManualResume = d[0] == 0xf5
			d = d[1:]
		case 26: // NPings
			if m, w.NPings, d, ok = cborHead(d); !ok || m != 0 {
				return false
			}
		case 27: // NoBodyFrom
			if m, w.NoBodyFrom, d, ok = cborHead(d); !ok || m != 0 {
				return false
			}
		case 40: // Dialect: rare and nested; the library decodes it
			w.Dialect = nil
			rest, err := decMode.UnmarshalFirst(d, &w.Dialect)
			if err != nil {
				return false
			}
			d = rest
		default:
			return false
		}
	}
	if len(d) != 0 {
		return false
	}
	if nstrs > 0 {
		var sb strings.Builder
		sb.Grow(total)
		for _, p := range strs[:nstrs] {
			sb.Write(p.b)
		}
		all := sb.String()
		for _, p := range strs[:nstrs] {
			*p.dst, all = all[:len(p.b)], all[len(p.b):]
		}
	}
	return true
}

type pendingString struct {
	dst *string
	b   []byte
}

// stringField returns the field of w for the string key (not Kind, Methods, Status).
func stringField(w *checkWire, key uint64) *string {
	switch key {
	case 3:
		return &w.Name
	case 4:
		return &w.Slug
	case 5:
		return &w.Tags
	case 6:
		return &w.Desc
	case 10:
		return &w.Schedule
	case 11:
		return &w.TZ
	case 13:
		return &w.Channels
	case 23:
		return &w.LastStartRID
	}
	panic("store: stringField of a non-string key")
}

// internBytes is intern for a byte slice, without allocating for the
// strings intern knows.
func internBytes(b []byte) string {
	if s, ok := interned[string(b)]; ok { // no allocation for the lookup
		return s
	}
	return string(b)
}
