package store

import (
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// Key prefixes: one byte each. The layout is documented in doc.go.
const (
	pfxMeta        = 'm' // 'm' name → value
	pfxProject     = 'p' // 'p' project id → Project
	pfxKeyHash     = 'k' // 'k' sha256 → project id + role
	pfxPingKey     = 'K' // 'K' ping key → project id
	pfxCheck       = 'c' // 'c' check id → Check
	pfxProjCheck   = 'P' // 'P' project id, check id → ∅
	pfxSlug        = 's' // 's' project id, slug, 0x00, check id → ∅
	pfxPing        = 'l' // 'l' check id, n → Ping
	pfxBody        = 'b' // 'b' check id, n → body
	pfxFlip        = 'f' // 'f' check id, time, seq → Flip
	formatKeyName  = "format"
	formatVersion  = 1
	flipSeqLen     = 4
	pingKeyLen     = 1 + 16 + 8
	flipKeyLen     = 1 + 16 + 8 + flipSeqLen
	checkKeyLen    = 1 + 16
	projCheckKeyLn = 1 + 16 + 16
)

func appendID(dst []byte, pfx byte, id uuid.UUID) []byte {
	dst = append(dst, pfx)
	return append(dst, id[:]...)
}

func metaKey(dst []byte, name string) []byte {
	dst = append(dst, pfxMeta)
	return append(dst, name...)
}

func projectKey(dst []byte, id uuid.UUID) []byte { return appendID(dst, pfxProject, id) }
func checkKey(dst []byte, id uuid.UUID) []byte   { return appendID(dst, pfxCheck, id) }

func keyHashKey(dst []byte, h [32]byte) []byte {
	dst = append(dst, pfxKeyHash)
	return append(dst, h[:]...)
}

func pingKeyKey(dst []byte, pingKey string) []byte {
	dst = append(dst, pfxPingKey)
	return append(dst, pingKey...)
}

func projCheckKey(dst []byte, projectID, checkID uuid.UUID) []byte {
	dst = appendID(dst, pfxProjCheck, projectID)
	return append(dst, checkID[:]...)
}

// slugPrefix is 's' project id slug 0x00: every entry of one slug.
func slugPrefix(dst []byte, projectID uuid.UUID, slug string) []byte {
	dst = appendID(dst, pfxSlug, projectID)
	dst = append(dst, slug...)
	return append(dst, 0)
}

func slugKey(dst []byte, projectID uuid.UUID, slug string, checkID uuid.UUID) []byte {
	dst = slugPrefix(dst, projectID, slug)
	return append(dst, checkID[:]...)
}

func pingLogKey(dst []byte, pfx byte, checkID uuid.UUID, n uint64) []byte {
	dst = appendID(dst, pfx, checkID)
	return binary.BigEndian.AppendUint64(dst, n)
}

// timeKey maps t to 8 bytes whose byte order is time order (the sign bit is
// flipped so that times before 1970 sort first).
func timeKey(dst []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(nanos(t))^(1<<63))
}

func flipKey(dst []byte, checkID uuid.UUID, t time.Time, seq uint32) []byte {
	dst = appendID(dst, pfxFlip, checkID)
	dst = timeKey(dst, t)
	return binary.BigEndian.AppendUint32(dst, seq)
}

// prefixEnd returns the smallest key greater than every key with the prefix
// p, appended to dst; p must not be all 0xff.
func prefixEnd(dst, p []byte) []byte {
	start := len(dst)
	dst = append(dst, p...)
	for i := len(dst) - 1; i >= start; i-- {
		dst[i]++
		if dst[i] != 0 {
			return dst[:i+1]
		}
	}
	panic("store: prefixEnd of an all-0xff prefix")
}

// idRange returns [pfx id, pfx id+1): every key of one id under pfx.
func idRange(pfx byte, id uuid.UUID) (lo, hi []byte) {
	lo = appendID(make([]byte, 0, 2*(1+16)), pfx, id)
	hi = prefixEnd(lo[len(lo):], lo)
	return lo, hi
}
