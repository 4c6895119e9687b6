package cluster

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// A pinned shard is a shard of this cluster's count, written in decimal;
// anything else is not a pin, and the request is routed by its content.
func TestPinnedShard(t *testing.T) {
	for _, tc := range []struct {
		header string
		shard  uint32
		ok     bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"11", 11, true},
		{"12", 0, false},
		{"-1", 0, false},
		{"+3", 0, false},
		{"3a", 0, false},
		{"18446744073709551616", 0, false},
	} {
		var ctx fasthttp.RequestCtx
		if tc.header != "" {
			ctx.Request.Header.Set(shardHeader, tc.header)
		}
		s, ok := pinnedShard(&ctx, 12)
		if s != tc.shard || ok != tc.ok {
			t.Errorf("%s: %q = %d, %v; want %d, %v", shardHeader, tc.header, s, ok, tc.shard, tc.ok)
		}
	}
}
