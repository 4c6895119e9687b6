package bench

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// checkID is the i-th seeded check's id: a version-4 uuid derived from (seed, i), so
// a child process regenerates the ids of a store it did not seed from two numbers.
func checkID(seed uint64, i int) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], splitmix64(seed^uint64(i)<<1))
	binary.BigEndian.PutUint64(u[8:], splitmix64(seed^(uint64(i)<<1|1)))
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
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
