package wire

import (
	"bytes"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
)

// Keys maps an API key to its project and role; the engine implements it.
type Keys interface {
	Authenticate(key string) (project uuid.UUID, readOnly bool, ok bool)
}

// Access is what an endpoint asks of the caller's key.
type Access uint8

const (
	// Read endpoints take a project's read-only key as well as its read-write key.
	Read Access = iota
	// Write endpoints take only the read-write key.
	Write
)

// Caller is who an authenticated request comes from.
type Caller struct {
	Project  uuid.UUID
	ReadOnly bool
}

// Auth reads a project key sent as "Authorization: <Scheme> <key>".
type Auth struct {
	// Scheme is the dialect's word before the key ("GenieKey", "Bearer"), matched
	// without regard to case as HTTP's auth schemes are.
	Scheme string
	Keys   Keys
}

// Check authenticates ctx for an endpoint needing need. A missing header, another
// scheme or an unknown key is Unauthenticated; a read-only key on a Write endpoint
// is Forbidden (it is a valid key, just not allowed this).
func (a Auth) Check(ctx *fasthttp.RequestCtx, need Access) (Caller, *Failure) {
	h := bytes.TrimSpace(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	scheme, key, _ := bytes.Cut(h, []byte(" "))
	key = bytes.TrimSpace(key)
	if len(key) == 0 || !bytes.EqualFold(scheme, []byte(a.Scheme)) {
		return Caller{}, Failf(Unauthenticated, "missing or malformed Authorization header: want %q", a.Scheme+" <key>")
	}
	project, readOnly, ok := a.Keys.Authenticate(string(key))
	if !ok {
		return Caller{}, Failf(Unauthenticated, "unknown key")
	}
	if readOnly && need == Write {
		return Caller{}, Failf(Forbidden, "a read-only key may not change anything")
	}
	return Caller{Project: project, ReadOnly: readOnly}, nil
}
