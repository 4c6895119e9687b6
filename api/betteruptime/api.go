package betteruptime

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/ingest"
)

// Paths served: the Heartbeats API and the heartbeats' ping URLs.
const (
	Prefix     = "/api/v2/heartbeats"
	PingPrefix = "/api/v1/heartbeat/"
)

// Better Uptime's page sizes.
const (
	defaultPerPage = 50
	maxPerPage     = 250
)

// Options configures the API.
type Options struct {
	// BaseURL prefixes the heartbeats' url attribute and the pagination links;
	// required.
	BaseURL string
	// Periods bounds period and grace (defaults 60s and 365 days).
	wire.Periods
	// BodyLimit is the largest ping body accepted, in bytes, as for /ping/;
	// default 100 KB.
	BodyLimit int
	// Now stamps changes; default time.Now.
	Now func() time.Time
}

// WithDefaults fills zero fields with their documented defaults.
func (o Options) WithDefaults() Options {
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	o.Periods = o.Periods.WithDefaults()
	if o.BodyLimit == 0 {
		o.BodyLimit = 100_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	if err := o.Periods.Validate(); err != nil {
		return fmt.Errorf("betteruptime: %w", err)
	}
	switch {
	case o.BaseURL == "":
		return errors.New("betteruptime: BaseURL is required")
	case o.BodyLimit < 0:
		return fmt.Errorf("betteruptime: BodyLimit %d is negative", o.BodyLimit)
	}
	return nil
}

// API serves Prefix and PingPrefix.
type API struct {
	b    Backend
	o    Options
	auth wire.Auth
}

// New makes an API over b.
func New(b Backend, o Options) (*API, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &API{b: b, o: o, auth: wire.Auth{Scheme: "Bearer", Keys: b}}, nil
}

// notFound is Better Uptime's answer for an id it does not know.
var notFound = &wire.Failure{Kind: wire.NotFound, Message: "Resource with provided ID was not found"}

// fail answers f in Better Uptime's shape: {"errors": "message"}, and for a
// request that breaks field rules {"errors": {field: [problems]}}.
func fail(ctx *fasthttp.RequestCtx, f *wire.Failure) {
	var errs any = f.Message
	switch f.Kind {
	case wire.NotFound:
		errs = notFound.Message
	case wire.Unauthenticated:
		errs = "Invalid Team API token"
	case wire.Invalid:
		if _, problems := f.ByField(); len(problems) > 0 {
			errs = problems
		}
	}
	wire.JSON(ctx, f.Status(), map[string]any{"errors": errs})
}

// Serve handles one request under Prefix or PingPrefix.
func (a *API) Serve(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if strings.HasPrefix(path, PingPrefix) {
		a.ping(ctx, path[len(PingPrefix):])
		return
	}
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok || rest != "" && rest[0] != '/' {
		fail(ctx, notFound)
		return
	}
	rest = strings.Trim(rest, "/")
	m := string(ctx.Method())
	read := m == "GET" || m == "HEAD"
	var need wire.Access
	var handle func(wire.Caller)
	switch {
	case rest == "" && read:
		need, handle = wire.Read, func(c wire.Caller) { a.list(ctx, c) }
	case rest == "" && m == "POST":
		need, handle = wire.Write, func(c wire.Caller) { a.create(ctx, c) }
	case strings.Contains(rest, "/"):
		fail(ctx, notFound)
		return
	case rest != "" && read:
		need, handle = wire.Read, func(c wire.Caller) { a.get(ctx, c, rest) }
	case rest != "" && m == "PATCH":
		need, handle = wire.Write, func(c wire.Caller) { a.update(ctx, c, rest) }
	case rest != "" && m == "DELETE":
		need, handle = wire.Write, func(c wire.Caller) { a.delete(ctx, c, rest) }
	default:
		fail(ctx, wire.Failf(wire.MethodNotAllowed, "Method %s is not allowed here", m))
		return
	}
	a.authorized(ctx, need, "heartbeats", handle)
}

// authorized runs handle for the request's caller if its key may do need, and
// answers in Better Uptime's shape otherwise; what names the resource a
// read-only key may only list and get.
func (a *API) authorized(ctx *fasthttp.RequestCtx, need wire.Access, what string, handle func(wire.Caller)) {
	caller, f := a.auth.Check(ctx, need)
	if f != nil {
		if f.Kind == wire.Forbidden {
			f.Message = "This token is read-only: it may list and get " + what + ", and nothing else."
		}
		fail(ctx, f)
		return
	}
	handle(caller)
}

func (a *API) list(ctx *fasthttp.RequestCtx, caller wire.Caller) {
	page, f := wire.ParsePage(ctx.QueryArgs(), defaultPerPage, maxPerPage)
	if f != nil {
		fail(ctx, f)
		return
	}
	// Oldest first, so pages stay put as checks are added; the page is read
	// from the creation index, not the project.
	total := a.b.ProjectCheckCount(caller.Project)
	lo, hi := page.Window(total)
	checks, err := a.b.CreatedChecks(caller.Project, lo, hi-lo)
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	out := make([]resource, 0, len(checks))
	for i := range checks {
		out = append(out, a.render(&checks[i]))
	}
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{
		"data":       out,
		"pagination": page.Links(a.o.BaseURL+Prefix, total),
	})
}

// lookup resolves a heartbeat id of the caller's project; anything that is not
// one of its numbers is not found, as Better Uptime answers.
func (a *API) lookup(caller wire.Caller, id string) (store.Check, *wire.Failure) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		return store.Check{}, notFound
	}
	c, err := a.b.CheckByNumber(caller.Project, n)
	if err != nil {
		return store.Check{}, wire.FromBackend(err)
	}
	return c, nil
}

func (a *API) get(ctx *fasthttp.RequestCtx, caller wire.Caller, id string) {
	c, f := a.lookup(caller, id)
	if f != nil {
		fail(ctx, f)
		return
	}
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{"data": a.render(&c)})
}

func (a *API) create(ctx *fasthttp.RequestCtx, caller wire.Caller) {
	ch, f := a.decode(ctx.PostBody(), true)
	if f != nil {
		fail(ctx, f)
		return
	}
	paused := ch.paused != nil && *ch.paused
	c, err := a.b.CreateHeartbeat(caller.Project, paused, func(c *store.Check) error {
		// A paused Better Uptime heartbeat stays paused until it is resumed: a
		// ping must not wake it.
		c.ManualResume = true
		ch.apply(c)
		c.Dialect = c.Dialect.Clone()
		c.Dialect.Origin = "betteruptime"
		return nil
	})
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	wire.JSON(ctx, fasthttp.StatusCreated, map[string]any{"data": a.render(&c)})
}

func (a *API) update(ctx *fasthttp.RequestCtx, caller wire.Caller, id string) {
	c, f := a.lookup(caller, id)
	if f != nil {
		fail(ctx, f)
		return
	}
	ch, f := a.decode(ctx.PostBody(), false)
	if f != nil {
		fail(ctx, f)
		return
	}
	c, err := a.b.EditCheck(caller.Project, c.ID, ch.paused, func(c *store.Check) error {
		ch.apply(c)
		return nil
	})
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{"data": a.render(&c)})
}

func (a *API) delete(ctx *fasthttp.RequestCtx, caller wire.Caller, id string) {
	c, f := a.lookup(caller, id)
	if f != nil {
		fail(ctx, f)
		return
	}
	if _, err := a.b.DeleteCheck(caller.Project, c.ID); err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// token is a check's ping token: its uuid in 32 hex digits. It is as secret as
// the uuid in a Healthchecks.io ping URL, and finding the check needs no index.
func token(id uuid.UUID) string { return hex.EncodeToString(id[:]) }

// ping serves /api/v1/heartbeat/<token>[/fail|/<exit code>] as Better Stack does:
// GET, HEAD or POST; /fail and a non-zero exit code report a failure, which takes
// the heartbeat down at once; 0 is a success.
func (a *API) ping(ctx *fasthttp.RequestCtx, rest string) {
	reply := func(status int, body string) {
		ctx.SetStatusCode(status)
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(body)
	}
	tok, suffix, _ := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	raw, err := hex.DecodeString(tok)
	if err != nil || len(raw) != 16 {
		reply(fasthttp.StatusNotFound, "Not found")
		return
	}
	ev, exit := heartbeat.Event{Kind: heartbeat.Success}, -1
	switch {
	case suffix == "":
	case suffix == "fail":
		ev.Kind = heartbeat.Fail
	case strings.Trim(suffix, "0123456789") == "" && len(suffix) <= 3:
		if exit, _ = strconv.Atoi(suffix); exit > 255 {
			reply(fasthttp.StatusBadRequest, "exit code must be 0-255")
			return
		}
		if exit > 0 {
			ev.Kind = heartbeat.Fail
		}
	default:
		reply(fasthttp.StatusNotFound, "Not found")
		return
	}
	if m := string(ctx.Method()); m != "GET" && m != "HEAD" && m != "POST" {
		reply(fasthttp.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	if len(ctx.PostBody()) > a.o.BodyLimit {
		reply(fasthttp.StatusRequestEntityTooLarge, "request body too large")
		return
	}
	err = a.b.Ping(uuid.UUID(raw), ev, ingest.NewPing(ctx, exit))
	switch {
	case err == nil:
		reply(fasthttp.StatusOK, "OK")
	case errors.Is(err, store.ErrNotFound):
		reply(fasthttp.StatusNotFound, "Not found")
	default:
		// Not durable: say so, so the job's curl --retry tries again.
		reply(fasthttp.StatusServiceUnavailable, "ping not recorded, retry")
	}
}
