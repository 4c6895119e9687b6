package bench

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// checkID is the i-th seeded check's id: a version-4 uuid derived from (seed, i), so
// a child process regenerates the ids of a store it did not seed from two numbers.
// Its last four bytes are i masked by the seed, so checkIndex finds i without a
// map: a map of 1M ids cost the deadline scenario's observer a cache miss per
// transition, on the wheel driver's goroutine that it measures.
func checkID(seed uint64, i int) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], splitmix64(seed^uint64(i)<<1))
	binary.BigEndian.PutUint64(u[8:], splitmix64(seed^(uint64(i)<<1|1)))
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	binary.BigEndian.PutUint32(u[12:], uint32(i)^indexMask(seed))
	return u
}

func indexMask(seed uint64) uint32 { return uint32(splitmix64(^seed)) }

// checkIndex is the i < n with checkID(seed, i) == id, if there is one.
func checkIndex(seed uint64, n int, id uuid.UUID) (int, bool) {
	i := int(binary.BigEndian.Uint32(id[12:]) ^ indexMask(seed))
	if i >= n || checkID(seed, i) != id {
		return 0, false
	}
	return i, true
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// appendUUID appends u in its canonical 36-character form without allocating.
func appendUUID(dst []byte, u uuid.UUID) []byte {
	const hexdigits = "0123456789abcdef"
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexdigits[b>>4], hexdigits[b&0x0f])
	}
	return dst
}
