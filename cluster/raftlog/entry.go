package raftlog

import (
	"encoding/binary"
	"errors"
)

// A normal entry's data: the proposing leader's term and the shard's
// sequence number (8 bytes each, big-endian), then the merged commands,
// each uvarint-length-prefixed. Raft's own empty entries (a new leader's
// first) have no data.
const entryHeaderLen = 16

var errBadEntry = errors.New("raft entry does not decode")

func encodeEntry(term, seq uint64, cmds [][]byte) []byte {
	n := entryHeaderLen
	for _, c := range cmds {
		n += binary.MaxVarintLen64 + len(c)
	}
	data := make([]byte, 0, n)
	data = binary.BigEndian.AppendUint64(data, term)
	data = binary.BigEndian.AppendUint64(data, seq)
	for _, c := range cmds {
		data = binary.AppendUvarint(data, uint64(len(c)))
		data = append(data, c...)
	}
	return data
}

// decodeEntry splits data into its header and commands; the commands alias
// data.
func decodeEntry(data []byte) (term, seq uint64, cmds [][]byte, err error) {
	if len(data) < entryHeaderLen {
		return 0, 0, nil, errBadEntry
	}
	term = binary.BigEndian.Uint64(data)
	seq = binary.BigEndian.Uint64(data[8:])
	rest := data[entryHeaderLen:]
	for len(rest) > 0 {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			return 0, 0, nil, errBadEntry
		}
		cmds = append(cmds, rest[k:k+int(n)])
		rest = rest[k+int(n):]
	}
	return term, seq, cmds, nil
}
