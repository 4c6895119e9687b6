package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
)

// Errors the Engine returns for pings that cannot be recorded.
var (
	ErrNotFound  = store.ErrNotFound
	ErrAmbiguous = errors.New("ambiguous slug")
)

// Engine records pings. Both methods return once the ping is durable.
type Engine interface {
	Ping(id uuid.UUID, ev heartbeat.Event, p store.Ping) error
	// PingSlug pings the check of the project with pingKey whose slug is slug; with
	// create it makes the check first when there is none, and reports so.
	PingSlug(pingKey, slug string, create bool, ev heartbeat.Event, p store.Ping) (created bool, err error)
}

// Options configures a Handler.
type Options struct {
	// BodyLimit is the largest ping body accepted, in bytes; a larger one is refused
	// with 413 and nothing is recorded. Default 100 KB, as Healthchecks.io.
	BodyLimit int
	// Metrics, if not nil, counts and times every ping request (NewMetrics).
	Metrics *Metrics
}

// WithDefaults fills zero fields with their defaults.
func (o Options) WithDefaults() Options {
	if o.BodyLimit == 0 {
		o.BodyLimit = 100_000
	}
	return o
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	if o.BodyLimit < 0 {
		return fmt.Errorf("ingest: BodyLimit %d is negative", o.BodyLimit)
	}
	return nil
}

// Handler serves /ping/.
type Handler struct {
	e         Engine
	o         Options
	limitText string
}

// New makes a Handler.
func New(e Engine, o Options) (*Handler, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Handler{e: e, o: o, limitText: strconv.Itoa(o.BodyLimit)}, nil
}

// Prefix is the path prefix the Handler serves.
const Prefix = "/ping/"

// target is a parsed ping path.
type target struct {
	id      uuid.UUID
	pingKey string
	slug    string
	ev      heartbeat.Event
	exit    int
}

// parsePath follows Healthchecks.io's URL patterns: a uuid first segment with an
// optional action is a uuid ping; anything else of two segments is a slug ping.
func parsePath(path string) (target, string) {
	t := target{exit: -1}
	rest := strings.TrimPrefix(path, Prefix)
	parts := strings.Split(rest, "/")
	if id, err := uuid.Parse(parts[0]); err == nil && len(parts[0]) == 36 {
		if len(parts) == 1 || (len(parts) == 2 && parts[1] == "") {
			t.id = id
			return t, ""
		}
		if len(parts) == 2 {
			if msg := t.setAction(parts[1]); msg == "" {
				t.id = id
				return t, ""
			} else if msg != "slug" {
				return t, msg
			}
		}
	}
	if len(parts) < 2 || len(parts) > 3 || !isSlug(parts[0]) || parts[1] == "" {
		return t, "not found"
	}
	if parts[1] != strings.ToLower(parts[1]) || !isSlug(parts[1]) {
		return t, "invalid url format"
	}
	t.pingKey, t.slug = parts[0], parts[1]
	if len(parts) == 3 {
		if msg := t.setAction(parts[2]); msg == "slug" {
			return t, "not found"
		} else if msg != "" {
			return t, msg
		}
	}
	return t, ""
}

// setAction parses an action segment. It answers "slug" when seg is no action at
// all (so the path may be a slug ping), or an error text for a bad exit status.
func (t *target) setAction(seg string) string {
	switch seg {
	case "start":
		t.ev.Kind = heartbeat.Start
	case "fail":
		t.ev.Kind = heartbeat.Fail
	case "log":
		t.ev.Kind = heartbeat.Log
	default:
		if seg == "" || strings.Trim(seg, "0123456789") != "" {
			return "slug"
		}
		n, err := strconv.Atoi(seg)
		if err != nil || n > 255 {
			return "invalid url format"
		}
		t.exit = n
		t.ev.Kind = heartbeat.Success
		if n > 0 {
			t.ev.Kind = heartbeat.Fail
		}
	}
	return ""
}

func isSlug(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (h *Handler) reply(ctx *fasthttp.RequestCtx, status int, body string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.Response.Header.Set("Access-Control-Allow-Origin", "*")
	ctx.Response.Header.Set("Ping-Body-Limit", h.limitText)
	ctx.SetBodyString(body)
}

// Serve handles one ping request.
func (h *Handler) Serve(ctx *fasthttp.RequestCtx) {
	if h.o.Metrics != nil {
		start := time.Now()
		defer func() { h.o.Metrics.Observe(DialectHealthchecks, ctx.Response.StatusCode(), time.Since(start)) }()
	}
	t, msg := parsePath(string(ctx.Path()))
	switch msg {
	case "":
	case "not found":
		h.reply(ctx, fasthttp.StatusNotFound, "OK (not found)")
		return
	default:
		h.reply(ctx, fasthttp.StatusBadRequest, msg)
		return
	}
	if rid := ctx.QueryArgs().Peek("rid"); rid != nil {
		if _, err := uuid.ParseBytes(rid); err != nil || len(rid) != 36 {
			h.reply(ctx, fasthttp.StatusBadRequest, "invalid uuid format")
			return
		}
		t.ev.RID = strings.ToLower(string(rid))
	}
	body := ctx.PostBody()
	if len(body) > h.o.BodyLimit {
		h.reply(ctx, fasthttp.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	p := NewPing(ctx, t.exit)
	p.RID = t.ev.RID
	var err error
	created := false
	if t.slug == "" {
		err = h.e.Ping(t.id, t.ev, p)
	} else {
		created, err = h.e.PingSlug(t.pingKey, t.slug, string(ctx.QueryArgs().Peek("create")) == "1", t.ev, p)
	}
	switch {
	case err == nil && created:
		h.reply(ctx, fasthttp.StatusCreated, "Created")
	case err == nil:
		h.reply(ctx, fasthttp.StatusOK, "OK")
	case errors.Is(err, ErrNotFound):
		h.reply(ctx, fasthttp.StatusNotFound, "OK (not found)")
	case errors.Is(err, ErrAmbiguous):
		h.reply(ctx, fasthttp.StatusConflict, "ambiguous slug")
	default:
		// The ping was not made durable: say so, so the client retries.
		h.reply(ctx, fasthttp.StatusServiceUnavailable, "ping not recorded, retry")
	}
}

// NewPing is the log entry of the ping request ctx before the check's actor numbers
// and stamps it: how it came (scheme, client address, method, user agent), its exit
// status (-1 for none) and a copy of its body. The Better Uptime dialect's ping URL
// builds its entries with it too, so a ping reads the same whichever URL it used.
func NewPing(ctx *fasthttp.RequestCtx, exit int) store.Ping {
	body := ctx.PostBody()
	p := store.Ping{
		Scheme:     scheme(ctx),
		RemoteAddr: remoteAddr(ctx),
		Method:     string(ctx.Method()),
		UA:         string(ctx.UserAgent()),
		ExitStatus: exit,
		BodySize:   len(body),
	}
	if len(body) > 0 {
		p.Body = append([]byte(nil), body...)
	}
	return p
}

func scheme(ctx *fasthttp.RequestCtx) string {
	if p := ctx.Request.Header.Peek("X-Forwarded-Proto"); len(p) > 0 {
		return string(p)
	}
	if ctx.IsTLS() {
		return "https"
	}
	return "http"
}

func remoteAddr(ctx *fasthttp.RequestCtx) string {
	if f := ctx.Request.Header.Peek("X-Forwarded-For"); len(f) > 0 {
		first, _, _ := strings.Cut(string(f), ",")
		return strings.TrimSpace(first)
	}
	return ctx.RemoteIP().String()
}
