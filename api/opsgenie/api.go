package opsgenie

import (
	"errors"
	"fmt"
	"net/url"
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

// Options configures the API.
type Options struct {
	// Periods bounds a heartbeat's interval (interval × unit), on top of
	// Opsgenie's own minimum of one unit (defaults 60s and 365 days).
	wire.Periods
	// Now stamps changes; default time.Now.
	Now func() time.Time
}

// WithDefaults fills zero fields with their documented defaults.
func (o Options) WithDefaults() Options {
	o.Periods = o.Periods.WithDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	if err := o.Periods.Validate(); err != nil {
		return fmt.Errorf("opsgenie: %w", err)
	}
	return nil
}

// API serves Prefix.
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
	return &API{b: b, o: o, auth: wire.Auth{Scheme: "GenieKey", Keys: b}}, nil
}

// Prefix is the path prefix served.
const Prefix = "/v2/heartbeats"

// request is one call: its id (Opsgenie's requestId) and, once authenticated, its caller.
type request struct {
	ctx    *fasthttp.RequestCtx
	id     string
	caller wire.Caller
}

// took is the time since the request arrived, in seconds as Opsgenie counts it.
// Never 0: the SDKs take a zero "took" for a missing one and log a warning.
func (r *request) took() float64 {
	return max(0.001, float64(time.Since(r.ctx.Time()).Microseconds())/1e6)
}

// reply answers in Opsgenie's envelope, with the headers its SDKs read back.
func (r *request) reply(status int, data any, result string) {
	took := r.took()
	r.ctx.Response.Header.Set("X-Request-Id", r.id)
	r.ctx.Response.Header.Set("X-Response-Time", strconv.FormatFloat(took, 'f', -1, 64))
	r.ctx.Response.Header.Set("X-RateLimit-State", "OK")
	wire.JSON(r.ctx, status, struct {
		Data      any     `json:"data,omitempty"`
		Result    string  `json:"result,omitempty"`
		Took      float64 `json:"took"`
		RequestID string  `json:"requestId"`
	}{data, result, took, r.id})
}

// fail answers f as Opsgenie sends errors: message, took, requestId and, for a
// request that breaks field rules, errors as field → reason (one string each, as
// its SDKs decode them).
func (r *request) fail(f *wire.Failure) {
	body := struct {
		Message   string            `json:"message"`
		Errors    map[string]string `json:"errors,omitempty"`
		Took      float64           `json:"took"`
		RequestID string            `json:"requestId"`
	}{Message: f.Message, Took: r.took(), RequestID: r.id}
	switch f.Kind {
	case wire.Unauthenticated:
		body.Message = "Could not authenticate"
	case wire.Invalid:
		body.Message = "Request body is not processable. Please check the errors."
		fields, problems := f.ByField()
		body.Errors = map[string]string{}
		for _, field := range fields {
			body.Errors[field] = strings.Join(problems[field], "; ")
		}
		if len(fields) == 0 {
			body.Errors["body"] = f.Message
		}
	}
	r.ctx.Response.Header.Set("X-Request-Id", r.id)
	r.ctx.Response.Header.Set("X-RateLimit-State", "OK")
	wire.JSON(r.ctx, f.Status(), body)
}

// failBackend answers an error from the backend; name is the heartbeat the call
// was about, for Opsgenie's messages.
func (r *request) failBackend(err error, name string) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		r.fail(notFound(name))
	case errors.Is(err, ErrNameTaken):
		r.fail(wire.Failf(wire.Conflict, "Heartbeat with name [%s] already exists.", name))
	default:
		r.fail(wire.FromBackend(err))
	}
}

func notFound(name string) *wire.Failure {
	return wire.Failf(wire.NotFound, "Heartbeat with name [%s] does not exist.", name)
}

// Serve handles one request under Prefix.
func (a *API) Serve(ctx *fasthttp.RequestCtx) {
	r := &request{ctx: ctx, id: uuid.NewString()}
	name, action, ok := parsePath(ctx)
	if !ok {
		r.fail(wire.Failf(wire.NotFound, "No API endpoint at %s", ctx.Path()))
		return
	}
	m := string(ctx.Method())
	read, write := m == "GET" || m == "HEAD", m == "POST" || m == "PUT" || m == "PATCH"
	var need wire.Access
	var handle func(*request)
	switch {
	case name == "" && read:
		need, handle = wire.Read, a.list
	case name == "" && m == "POST":
		need, handle = wire.Write, a.add
	case name != "" && action == "" && read:
		need, handle = wire.Read, func(r *request) { a.get(r, name) }
	case name != "" && action == "" && m == "PATCH":
		need, handle = wire.Write, func(r *request) { a.update(r, name) }
	case name != "" && action == "" && m == "DELETE":
		need, handle = wire.Write, func(r *request) { a.delete(r, name) }
	case action == "ping" && (m == "GET" || write):
		need, handle = wire.Read, func(r *request) { a.ping(r, name) }
	case (action == "enable" || action == "disable") && write:
		need, handle = wire.Write, func(r *request) { a.setEnabled(r, name, action == "enable") }
	default:
		r.fail(wire.Failf(wire.MethodNotAllowed, "Method %s is not allowed at %s", m, ctx.Path()))
		return
	}
	caller, f := a.auth.Check(ctx, need)
	if f != nil {
		if f.Kind == wire.Forbidden {
			f.Message = "This key is read-only: it may list, get and ping heartbeats, and nothing else."
		}
		r.fail(f)
		return
	}
	r.caller = caller
	handle(r)
}

// parsePath splits the path below Prefix into a heartbeat name and an action
// (ping, enable, disable), both empty for the collection. The name comes from the
// raw path, unescaped segment by segment, so a name may hold any character, a
// slash included (as %2F).
func parsePath(ctx *fasthttp.RequestCtx) (name, action string, ok bool) {
	raw := string(ctx.Request.URI().PathOriginal())
	if !strings.HasPrefix(raw, Prefix) {
		raw = string(ctx.Path())
	}
	rest := strings.TrimPrefix(raw, Prefix)
	if rest == "" || rest == "/" {
		return "", "", true
	}
	if rest[0] != '/' {
		return "", "", false
	}
	parts := strings.Split(rest[1:], "/")
	if len(parts) == 3 && parts[2] == "" || len(parts) == 2 && parts[1] == "" {
		parts = parts[:len(parts)-1] // a trailing slash
	}
	switch {
	case len(parts) > 2, len(parts) == 2 && parts[1] != "ping" && parts[1] != "enable" && parts[1] != "disable":
		return "", "", false
	case len(parts) == 2:
		action = parts[1]
	}
	name, err := url.PathUnescape(parts[0])
	if err != nil || name == "" {
		return "", "", false
	}
	return name, action, true
}

func (a *API) list(r *request) {
	checks, err := a.b.Checks(r.caller.Project)
	if err != nil {
		r.failBackend(err, "")
		return
	}
	sortByName(checks)
	out := make([]heartbeatJSON, len(checks))
	for i := range checks {
		out[i] = a.render(&checks[i])
	}
	r.reply(fasthttp.StatusOK, map[string]any{"heartbeats": out}, "")
}

func (a *API) get(r *request, name string) {
	c, err := a.b.CheckByName(r.caller.Project, name)
	if err != nil {
		r.failBackend(err, name)
		return
	}
	r.reply(fasthttp.StatusOK, a.render(&c), "")
}

func (a *API) add(r *request) {
	ch, f := a.decode(r.ctx.PostBody(), true)
	if f != nil {
		r.fail(f)
		return
	}
	c, err := a.b.CreateNamed(r.caller.Project, *ch.name, !*ch.enabled, func(c *store.Check) error {
		c.Name = *ch.name
		// Opsgenie has no way to wake a disabled heartbeat but enabling it: a ping
		// must not do it, so the check keeps a pause until it is resumed.
		c.ManualResume = true
		if err := a.apply(ch, c); err != nil {
			return err
		}
		c.Dialect = c.Dialect.Clone()
		c.Dialect.Origin = "opsgenie"
		return nil
	})
	if err != nil {
		r.failBackend(err, *ch.name)
		return
	}
	r.reply(fasthttp.StatusCreated, a.render(&c), "")
}

func (a *API) update(r *request, name string) {
	ch, f := a.decode(r.ctx.PostBody(), false)
	if f != nil {
		r.fail(f)
		return
	}
	c, err := a.b.CheckByName(r.caller.Project, name)
	if err != nil {
		r.failBackend(err, name)
		return
	}
	var paused *bool
	if ch.enabled != nil {
		p := !*ch.enabled
		paused = &p
	}
	c, err = a.b.EditCheck(r.caller.Project, c.ID, paused, func(c *store.Check) error { return a.apply(ch, c) })
	if err != nil {
		r.failBackend(err, name)
		return
	}
	r.reply(fasthttp.StatusOK, a.brief(&c), "")
}

func (a *API) delete(r *request, name string) {
	c, err := a.b.CheckByName(r.caller.Project, name)
	if err == nil {
		_, err = a.b.DeleteCheck(r.caller.Project, c.ID)
	}
	if err != nil {
		r.failBackend(err, name)
		return
	}
	r.reply(fasthttp.StatusOK, nil, "Deleted")
}

// setEnabled is enable (resume) and disable (pause). Enabling a heartbeat that is
// enabled changes nothing, as in Opsgenie: it does not restart monitoring.
func (a *API) setEnabled(r *request, name string, enabled bool) {
	c, err := a.b.CheckByName(r.caller.Project, name)
	if err == nil {
		paused := !enabled
		c, err = a.b.EditCheck(r.caller.Project, c.ID, &paused, nil)
	}
	if err != nil {
		r.failBackend(err, name)
		return
	}
	r.reply(fasthttp.StatusOK, a.brief(&c), "")
}

// ping records a success ping. Opsgenie answers PONG whether or not the heartbeat
// exists (it processes pings later); so does vigilo, creating nothing. For one
// that exists, PONG means the ping is on disk, as every ping answer here does.
func (a *API) ping(r *request, name string) {
	c, err := a.b.CheckByName(r.caller.Project, name)
	if err == nil {
		// Opsgenie ignores a ping's body; so does the ping log here.
		p := ingest.NewPing(r.ctx, -1)
		p.Body, p.BodySize = nil, 0
		err = a.b.Ping(c.ID, heartbeat.Event{Kind: heartbeat.Success}, p)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		r.failBackend(err, name)
		return
	}
	r.reply(fasthttp.StatusAccepted, nil, "PONG - Heartbeat received")
}
