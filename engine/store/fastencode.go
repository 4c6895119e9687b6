package store

import (
	"bytes"
	"encoding/binary"
)

// Hand-written encoders for the records written on every ping and every
// deadline transition (a check's record, a ping log entry, a flip). They write
// the bytes codec.go's EncMode writes for the same values — a definite-length
// map in field order, unsigned keys, omitempty fields left out, shortest heads
// — without its reflection, which was a fifth of a deadline transition's CPU
// on the wheel driver's goroutine. TestFastEncodeMatchesLibrary and
// FuzzFastEncode compare them with the library byte for byte, so a reader
// cannot tell them apart. A check with Dialect attributes goes to the library.

// appendHead appends a data item's head: major type and argument.
func appendHead(dst []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(dst, m|byte(arg))
	case arg <= 0xff:
		return append(dst, m|24, byte(arg))
	case arg <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(arg))
	case arg <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(arg))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), arg)
}

func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendHead(dst, 1, uint64(-(v + 1)))
	}
	return appendHead(dst, 0, uint64(v))
}

func appendText(dst []byte, s string) []byte {
	return append(appendHead(dst, 3, uint64(len(s))), s...)
}

// cborMap builds a map whose entry count is known only at the end: entries
// go after a one-byte placeholder head, fixed up by done (every record here
// has fewer than 24 fields).
type cborMap struct {
	b     []byte
	start int
	n     byte
}

func beginMap(dst []byte) cborMap {
	return cborMap{b: append(dst, 0xa0), start: len(dst)}
}

func (m *cborMap) key(k uint64) { m.n++; m.b = appendHead(m.b, 0, k) }

func (m *cborMap) text(k uint64, s string, omitEmpty bool) {
	if omitEmpty && s == "" {
		return
	}
	m.key(k)
	m.b = appendText(m.b, s)
}

func (m *cborMap) int(k uint64, v int64, omitEmpty bool) {
	if omitEmpty && v == 0 {
		return
	}
	m.key(k)
	m.b = appendInt(m.b, v)
}

func (m *cborMap) uint(k uint64, v uint64, omitEmpty bool) {
	if omitEmpty && v == 0 {
		return
	}
	m.key(k)
	m.b = appendHead(m.b, 0, v)
}

func (m *cborMap) id(k uint64, v [16]byte) {
	m.key(k)
	m.b = append(appendHead(m.b, 2, 16), v[:]...)
}

func (m *cborMap) done() []byte {
	m.b[m.start] = 0xa0 | m.n
	return m.b
}

// appendCheckFast appends w's encoding; ok is false (and dst unchanged) for a
// check with Dialect attributes, which the library encodes.
func appendCheckFast(dst []byte, w *checkWire) (_ []byte, ok bool) {
	if w.Dialect != nil {
		return dst, false
	}
	m := beginMap(dst)
	m.id(1, w.ID)
	m.id(2, w.ProjectID)
	m.text(3, w.Name, true)
	m.text(4, w.Slug, true)
	m.text(5, w.Tags, true)
	m.text(6, w.Desc, true)
	m.text(7, w.Kind, false)
	m.int(8, int64(w.Timeout), false)
	m.int(9, int64(w.Grace), false)
	m.text(10, w.Schedule, true)
	m.text(11, w.TZ, true)
	if w.ManualResume {
		m.key(12)
		m.b = append(m.b, 0xf5)
	}
	m.text(13, w.Channels, true)
	m.int(14, w.Created, false)
	m.text(15, w.Methods, true)
	m.text(20, w.Status, false)
	m.int(21, w.LastPing, true)
	m.int(22, w.LastStart, true)
	m.text(23, w.LastStartRID, true)
	m.int(24, int64(w.LastDuration), true)
	m.int(25, w.Deadline, true)
	m.uint(26, w.NPings, true)
	m.uint(27, w.NoBodyFrom, true)
	return m.done(), true
}

func appendPingFast(dst []byte, w *pingWire) []byte {
	m := beginMap(dst)
	m.uint(1, w.N, false)
	m.text(2, w.Kind, false)
	m.int(3, w.Time, false)
	m.text(4, w.Scheme, true)
	m.text(5, w.RemoteAddr, true)
	m.text(6, w.Method, true)
	m.text(7, w.UA, true)
	m.text(8, w.RID, true)
	m.int(9, int64(w.ExitStatus), true)
	m.int(10, int64(w.Duration), true)
	m.int(11, int64(w.BodySize), true)
	return m.done()
}

func appendFlipFast(dst []byte, w *flipWire) []byte {
	m := beginMap(dst)
	m.int(1, w.Time, false)
	m.text(2, w.From, false)
	m.text(3, w.To, false)
	return m.done()
}

// setBuffer makes b, appended to buf.AvailableBuffer() after a Reset, buf's
// contents: a copy onto itself unless the append outgrew buf.
func setBuffer(buf *bytes.Buffer, b []byte) {
	buf.Reset()
	buf.Write(b)
}
