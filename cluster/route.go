package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"sync"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/api/admin"
	"github.com/vigilo/vigilo/api/betteruptime"
	"github.com/vigilo/vigilo/api/healthchecks"
	"github.com/vigilo/vigilo/api/opsgenie"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/ingest"
)

// ShardOf is the shard of an id or key among shards: FNV-1a, because every
// node, of every version, must compute the same. What is hashed is what a
// request carries: a check's or project's 16 id bytes, the SHA-256 of an
// API key, a ping key's bytes. A project lives whole in one shard, and
// each shard's engine makes only ids and keys that hash to it
// (engine.Options.Owns), so a node tells a request's shard from the
// request itself.
func ShardOf(b []byte, shards int) uint32 {
	// hash/fnv's, written out: its hasher escapes to the heap, and this
	// runs on every ping.
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return uint32(h % uint64(shards))
}

// keyShards remembers where keys that do not hash to their project's
// shard live: those an operator chose (--api-key), found by looking in
// every local replica once.
type keyShards struct {
	mu sync.RWMutex
	m  map[string]uint32
}

func (k *keyShards) get(key string) (uint32, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	s, ok := k.m[key]
	return s, ok
}

func (k *keyShards) put(key string, s uint32) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) > 1<<16 {
		k.m = map[string]uint32{} // bounded: what is dropped is looked up again
	}
	k.m[key] = s
}

// route is the shard a request is for; ok is false for one that names no
// project or check (a malformed or unauthenticated request), which any
// shard's engine answers in its dialect's words.
func (n *Node) route(ctx *fasthttp.RequestCtx) (uint32, bool) {
	path := ctx.Path()
	switch {
	case bytes.HasPrefix(path, []byte(ingest.Prefix)):
		seg := path[len(ingest.Prefix):]
		if i := bytes.IndexByte(seg, '/'); i >= 0 {
			seg = seg[:i]
		}
		if len(seg) == 36 {
			if id, err := uuid.ParseBytes(seg); err == nil {
				return n.shardOf(id[:]), true
			}
		}
		return n.pingKeyShard(string(seg))
	case bytes.HasPrefix(path, []byte(betteruptime.PingPrefix)):
		seg := path[len(betteruptime.PingPrefix):]
		if i := bytes.IndexByte(seg, '/'); i >= 0 {
			seg = seg[:i]
		}
		if id, err := uuid.ParseBytes(seg); err == nil && len(seg) == 32 {
			return n.shardOf(id[:]), true
		}
		return 0, false
	case bytes.HasPrefix(path, []byte(betteruptime.Prefix)), bytes.HasPrefix(path, []byte(betteruptime.MonitorsPrefix)),
		bytes.HasPrefix(path, []byte(opsgenie.Prefix)):
		_, key, _ := bytes.Cut(bytes.TrimSpace(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)), []byte(" "))
		return n.keyShard(string(bytes.TrimSpace(key)))
	case bytes.HasPrefix(path, []byte(healthchecks.Prefix)):
		key := string(ctx.Request.Header.Peek("X-Api-Key"))
		if key == "" && ctx.IsPost() {
			var probe struct {
				APIKey any `json:"api_key"`
			}
			if json.Unmarshal(ctx.PostBody(), &probe) == nil && probe.APIKey != nil {
				if s, ok := probe.APIKey.(string); ok {
					key = s
				}
			}
		}
		return n.keyShard(key)
	case bytes.HasPrefix(path, []byte(admin.Prefix)):
		rest := bytes.TrimPrefix(path, []byte(admin.Prefix+"projects/"))
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			rest = rest[:i]
		}
		if id, err := uuid.ParseBytes(rest); err == nil {
			return n.shardOf(id[:]), true
		}
		if ctx.IsPost() && (string(path) == admin.Prefix+"projects" || string(path) == admin.Prefix+"projects/") {
			// A new project goes to a shard at random: they fill evenly.
			return uint32(rand.IntN(len(n.hosts))), true
		}
	}
	return 0, false
}

func (n *Node) shardOf(b []byte) uint32 { return ShardOf(b, len(n.hosts)) }

// keyShard is the shard of the project whose API key this is: the one its
// hash gives, unless a local replica knows it in another shard.
func (n *Node) keyShard(key string) (uint32, bool) {
	if key == "" {
		return 0, false
	}
	if s, ok := n.keys.get(key); ok {
		return s, true
	}
	h := sha256.Sum256([]byte(key))
	return n.findKey(key, n.shardOf(h[:]), func(st *store.Store) bool {
		_, _, err := st.LookupKey(h)
		return err == nil
	})
}

// pingKeyShard is keyShard for a project's ping key.
func (n *Node) pingKeyShard(key string) (uint32, bool) {
	if key == "" {
		return 0, false
	}
	if s, ok := n.keys.get("ping:" + key); ok {
		return s, true
	}
	s, ok := n.findKey("ping:"+key, n.shardOf([]byte(key)), func(st *store.Store) bool {
		_, err := st.LookupPingKey(key)
		return err == nil
	})
	return s, ok
}

// findKey looks for a key in the local replica of its hashed shard first,
// then in the others; one found nowhere goes to the hashed shard, whose
// leader knows it if this replica lags, or answers that it is unknown.
func (n *Node) findKey(cacheKey string, hashed uint32, has func(*store.Store) bool) (uint32, bool) {
	if has(n.hosts[hashed].st) {
		n.keys.put(cacheKey, hashed)
		return hashed, true
	}
	for _, h := range n.hosts {
		if h.id != hashed && has(h.st) {
			n.keys.put(cacheKey, h.id)
			return h.id, true
		}
	}
	return hashed, true
}

// shardHeader pins a forwarded request to the shard its first node chose,
// so that the two cannot disagree (a key the second's replica does not
// know yet, a new project's random shard).
const shardHeader = "X-Vigilo-Shard"

func pinnedShard(ctx *fasthttp.RequestCtx, shards int) (uint32, bool) {
	v := ctx.Request.Header.Peek(shardHeader)
	if len(v) == 0 {
		return 0, false
	}
	s, err := fasthttp.ParseUint(v) // no string made of it, on every forwarded request
	if err != nil || s >= shards {
		return 0, false
	}
	return uint32(s), true
}
