package healthchecks

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
)

// Options configures the API.
type Options struct {
	// BaseURL prefixes update_url, pause_url and resume_url; required.
	BaseURL string
	// PingURL prefixes ping_url; default BaseURL + "/ping/".
	PingURL string
	// Periods bounds timeout and grace (defaults 60s as Healthchecks.io, 365 days).
	wire.Periods
	// Now is the clock for status display and flips' "seconds"; default time.Now.
	Now func() time.Time
}

// WithDefaults fills zero fields with their documented defaults.
func (o Options) WithDefaults() Options {
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.PingURL == "" {
		o.PingURL = o.BaseURL + "/ping/"
	}
	o.Periods = o.Periods.WithDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	if o.BaseURL == "" {
		return errors.New("healthchecks: BaseURL is required")
	}
	if err := o.Periods.Validate(); err != nil {
		return fmt.Errorf("healthchecks: %w", err)
	}
	return nil
}

// API serves /api/v1/, /api/v2/ and /api/v3/.
type API struct {
	b Backend
	o Options
}

// New makes an API over b.
func New(b Backend, o Options) (*API, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &API{b: b, o: o}, nil
}

// Prefix is the common path prefix of the versions served.
const Prefix = "/api/v"

// request is one authenticated API call.
type request struct {
	ctx      *fasthttp.RequestCtx
	v        int
	project  uuid.UUID
	readOnly bool
	body     []byte
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, err := json.Marshal(v)
	if err != nil { // only our own values are marshalled: a bug, not input
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		b = []byte(`{"error": "internal error"}`)
	}
	ctx.SetBody(b)
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, map[string]string{"error": msg})
}

// Serve handles one request under Prefix.
func (a *API) Serve(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	var v int
	switch {
	case strings.HasPrefix(path, "/api/v1/"):
		v = 1
	case strings.HasPrefix(path, "/api/v2/"):
		v = 2
	case strings.HasPrefix(path, "/api/v3/"):
		v = 3
	default:
		writeError(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	rest := path[len("/api/v1/"):]
	ctx.Response.Header.Set("Access-Control-Allow-Origin", "*")
	if ctx.IsOptions() {
		ctx.Response.Header.Set("Access-Control-Allow-Headers", "X-Api-Key")
		ctx.Response.Header.Set("Access-Control-Max-Age", "600")
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	route, ok := a.route(rest, string(ctx.Method()))
	if !ok {
		writeError(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	if route.handle == nil {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	r := &request{ctx: ctx, v: v}
	if !a.authorize(r, route.readOK) {
		return
	}
	route.handle(r)
}

type route struct {
	handle func(*request)
	readOK bool // read-only keys may call it
}

// route maps a path below /api/vN/ and a method to its handler. An unknown path is
// !ok; a known path with a wrong method has a nil handle (405).
func (a *API) route(rest, method string) (route, bool) {
	parts := strings.Split(rest, "/")
	get, post, del := method == "GET" || method == "HEAD", method == "POST", method == "DELETE"
	switch {
	case rest == "checks/":
		switch {
		case get:
			return route{a.list, true}, true
		case post:
			return route{a.create, false}, true
		}
		return route{}, true
	case rest == "channels/":
		switch {
		case get:
			return route{a.channels, false}, true
		case post:
			return route{a.createChannel, false}, true
		}
		return route{}, true
	case parts[0] == "channels":
		return a.channelRoute(parts, get, post, del)
	case len(parts) < 2 || parts[0] != "checks":
		return route{}, false
	}
	id, byKey := parts[1], len(parts[1]) == 40 && isHex(parts[1])
	if !byKey {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			return route{}, false
		}
	}
	with := func(h func(*request, string)) func(*request) { return func(r *request) { h(r, id) } }
	switch {
	case len(parts) == 2:
		switch {
		case get:
			return route{with(a.get), true}, true
		case post && !byKey:
			return route{with(a.update), false}, true
		case del && !byKey:
			return route{with(a.delete), false}, true
		}
		return route{}, true
	case len(parts) == 3 && parts[2] == "pause" && !byKey, len(parts) == 3 && parts[2] == "resume" && !byKey:
		if post {
			if parts[2] == "pause" {
				return route{with(a.pause), false}, true
			}
			return route{with(a.resume), false}, true
		}
		return route{}, true
	case len(parts) == 4 && parts[2] == "pings" && parts[3] == "" && !byKey:
		if get {
			return route{with(a.pings), false}, true
		}
		return route{}, true
	case len(parts) == 5 && parts[2] == "pings" && parts[4] == "body" && !byKey:
		n, err := strconv.ParseUint(parts[3], 10, 64)
		if err != nil {
			return route{}, false
		}
		if get {
			return route{func(r *request) { a.pingBody(r, id, n) }, false}, true
		}
		return route{}, true
	case len(parts) == 4 && parts[2] == "notifications" && parts[3] == "" && !byKey:
		if get {
			return route{with(a.notifications), false}, true
		}
		return route{}, true
	case len(parts) == 4 && parts[2] == "flips" && parts[3] == "":
		if get {
			return route{with(a.flips), true}, true
		}
		return route{}, true
	}
	return route{}, false
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// authorize follows Healthchecks.io's decorators: X-Api-Key, or for a POST with a
// JSON body its api_key field; a read-only key only where readOK.
func (a *API) authorize(r *request, readOK bool) bool {
	ctx := r.ctx
	key := string(ctx.Request.Header.Peek("X-Api-Key"))
	if ctx.IsPost() {
		r.body = ctx.PostBody()
		if len(r.body) > 0 && key == "" {
			var probe struct {
				APIKey any `json:"api_key"`
			}
			if err := json.Unmarshal(r.body, &probe); err != nil {
				writeError(ctx, fasthttp.StatusBadRequest, "could not parse request body")
				return false
			}
			if probe.APIKey != nil {
				key = fmt.Sprint(probe.APIKey)
			}
		}
	}
	if key == "" {
		writeError(ctx, fasthttp.StatusUnauthorized, "missing api key")
		return false
	}
	project, readOnly, ok := a.b.Authenticate(key)
	if !ok || (readOnly && !readOK) {
		writeError(ctx, fasthttp.StatusUnauthorized, "wrong api key")
		return false
	}
	r.project, r.readOnly = project, readOnly
	return true
}

// uniqueKey is Healthchecks.io's stable read-only identifier of a check.
func uniqueKey(id uuid.UUID) string {
	k := store.UniqueKey(id)
	return hex.EncodeToString(k[:])
}

// isoSecond formats as Python's isoformat() of a time with microseconds dropped.
func isoSecond(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05-07:00")
}

func (a *API) checkJSON(r *request, c *store.Check) map[string]any {
	status, next := a.b.Timing(c, r.v == 1)
	m := map[string]any{
		"name":          c.Name,
		"tags":          c.Tags,
		"desc":          c.Desc,
		"grace":         int64(c.Grace / time.Second),
		"n_pings":       c.NPings,
		"status":        status,
		"last_ping":     isoSecond(c.LastPing),
		"next_ping":     isoSecond(next),
		"manual_resume": c.ManualResume,
		"methods":       c.Methods,
	}
	if r.v >= 2 {
		m["started"] = !c.LastStart.IsZero()
	}
	if r.v >= 3 {
		m["slug"] = c.Slug
	}
	if c.LastDuration > 0 {
		m["last_duration"] = int64(c.LastDuration / time.Second)
	}
	if r.readOnly {
		m["unique_key"] = uniqueKey(c.ID)
	} else {
		update := fmt.Sprintf("%s/api/v%d/checks/%s", a.o.BaseURL, r.v, c.ID)
		m["uuid"] = c.ID.String()
		m["ping_url"] = a.o.PingURL + c.ID.String()
		m["update_url"] = update
		m["pause_url"] = update + "/pause"
		m["resume_url"] = update + "/resume"
		m["channels"] = a.liveChannels(c.ProjectID, c.Channels)
	}
	if c.Kind == "cron" {
		m["schedule"] = c.Schedule
		m["tz"] = c.TZ
	} else {
		m["timeout"] = int64(c.Timeout / time.Second)
	}
	return m
}

// fail answers a backend error: not found as 404, anything else as 503 (the store
// could not take the change; the client may retry).
func fail(r *request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(r.ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	writeError(r.ctx, fasthttp.StatusServiceUnavailable, "temporarily unavailable: "+err.Error())
}

// listHead is how many checks a list answers before it streams: a project
// that small gets one ordinary body, and a store that fails at once still
// gets its 503.
const listHead = 100

// list streams the project's checks: Healthchecks.io's list has no paging, so a
// project of a million checks is a long answer, written check by check rather
// than built in memory. A read failing in the middle of the stream cannot
// change the status any more; the answer is then cut short of its closing
// brackets, so that no client takes it for the whole list.
func (a *API) list(r *request) {
	var tags []string
	for _, t := range r.ctx.QueryArgs().PeekMulti("tag") {
		tags = append(tags, string(t))
	}
	slug := ""
	if r.v >= 2 {
		slug = string(r.ctx.QueryArgs().Peek("slug"))
	}
	head := make([]store.Check, 0, listHead)
	err := a.b.EachCheck(r.project, slug, tags, func(c *store.Check) (bool, error) {
		head = append(head, *c)
		return len(head) < listHead+1, nil
	})
	if err != nil {
		fail(r, err)
		return
	}
	if len(head) <= listHead {
		out := make([]map[string]any, len(head))
		for i := range head {
			out[i] = a.checkJSON(r, &head[i])
		}
		writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"checks": out})
		return
	}
	rr := *r
	rr.ctx, rr.body = nil, nil
	r.ctx.SetStatusCode(fasthttp.StatusOK)
	r.ctx.SetContentType("application/json")
	r.ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		enc := json.NewEncoder(w)
		w.WriteString(`{"checks":[`)
		n := 0
		emit := func(c *store.Check) error {
			if n > 0 {
				w.WriteByte(',')
			}
			n++
			return enc.Encode(a.checkJSON(&rr, c))
		}
		for i := range head[:listHead] {
			if emit(&head[i]) != nil {
				return
			}
		}
		last := head[listHead-1].ID
		err := a.b.EachCheck(rr.project, slug, tags, func(c *store.Check) (bool, error) {
			if bytes.Compare(c.ID[:], last[:]) <= 0 {
				return true, nil
			}
			return true, emit(c)
		})
		if err == nil {
			w.WriteString("]}")
		}
	})
}

// lookup resolves a uuid or, for reads, a unique_key within the project.
func (a *API) lookup(r *request, id string) (store.Check, error) {
	if len(id) == 40 {
		var key [20]byte
		if _, err := hex.Decode(key[:], []byte(id)); err != nil {
			return store.Check{}, store.ErrNotFound
		}
		return a.b.CheckByUniqueKey(r.project, key)
	}
	return a.b.Check(r.project, uuid.MustParse(id))
}

func (a *API) get(r *request, id string) {
	c, err := a.lookup(r, id)
	if err != nil {
		fail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, a.checkJSON(r, &c))
}

func (a *API) parse(r *request) (spec, bool) {
	sp, err := decodeSpec(r.body, limits{a.o.MinPeriod, a.o.MaxPeriod})
	if err == nil && (sp.TZ != nil || sp.Schedule != nil) {
		sched, tz := "* * * * *", "UTC"
		if sp.Schedule != nil {
			sched = *sp.Schedule
		}
		if sp.TZ != nil {
			tz = *sp.TZ
		}
		if verr := a.b.ValidateSchedule(sched, tz); verr != nil {
			err = fmt.Errorf("json validation error: %w", verr)
		}
	}
	if err == nil && sp.Channels != nil {
		sp.channelIDs, err = a.resolveChannels(r.project, *sp.Channels)
	}
	if err != nil {
		writeError(r.ctx, fasthttp.StatusBadRequest, err.Error())
		return sp, false
	}
	return sp, true
}

// apply writes the request's fields onto c, as Healthchecks.io's _update.
func (sp *spec) apply(c *store.Check, v int) {
	if sp.Name != nil {
		c.Name = *sp.Name
		if v < 3 {
			c.Slug = slugify(*sp.Name)
		}
	}
	if sp.Schedule != nil && *sp.Schedule != "" {
		c.Kind, c.Schedule = "cron", *sp.Schedule
	} else if sp.Timeout != nil {
		c.Kind, c.Timeout = "simple", *sp.Timeout
	}
	if sp.Slug != nil {
		c.Slug = *sp.Slug
	}
	if sp.Tags != nil {
		c.Tags = *sp.Tags
	}
	if sp.Desc != nil {
		c.Desc = *sp.Desc
	}
	if sp.ManualResume != nil {
		c.ManualResume = *sp.ManualResume
	}
	if sp.Methods != nil {
		c.Methods = *sp.Methods
	}
	if sp.TZ != nil {
		c.TZ = *sp.TZ
	}
	if sp.Grace != nil {
		c.Grace = *sp.Grace
	}
	if sp.Channels != nil {
		c.Channels = sp.channelIDs
	}
}

// match is Healthchecks.io's _lookup: every field named in unique must be
// given and equal. A named field that is not given matches no check, so the
// request makes a new one, as an empty match does.
func (sp *spec) match() store.Match {
	var m store.Match
	for _, f := range sp.Unique {
		switch f {
		case "name":
			m.Name = sp.Name
			if sp.Name == nil {
				return store.Match{}
			}
		case "slug":
			m.Slug = sp.Slug
			if sp.Slug == nil {
				return store.Match{}
			}
		case "tags":
			m.Tags = sp.Tags
			if sp.Tags == nil {
				return store.Match{}
			}
		case "timeout":
			m.Timeout = sp.Timeout
			if sp.Timeout == nil {
				return store.Match{}
			}
		case "grace":
			m.Grace = sp.Grace
			if sp.Grace == nil {
				return store.Match{}
			}
		}
	}
	return m
}

func (a *API) create(r *request) {
	sp, ok := a.parse(r)
	if !ok {
		return
	}
	c, created, err := a.b.CreateCheck(r.project, sp.match(), func(c *store.Check) error {
		sp.apply(c, r.v)
		return nil
	})
	if err != nil {
		fail(r, err)
		return
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	writeJSON(r.ctx, status, a.checkJSON(r, &c))
}

func (a *API) update(r *request, id string) {
	sp, ok := a.parse(r)
	if !ok {
		return
	}
	c, err := a.b.UpdateCheck(r.project, uuid.MustParse(id), func(c *store.Check) error {
		sp.apply(c, r.v)
		return nil
	})
	if err != nil {
		fail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, a.checkJSON(r, &c))
}

func (a *API) pause(r *request, id string) {
	c, err := a.b.PauseCheck(r.project, uuid.MustParse(id))
	if err != nil {
		fail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, a.checkJSON(r, &c))
}

func (a *API) resume(r *request, id string) {
	c, paused, err := a.b.ResumeCheck(r.project, uuid.MustParse(id))
	if err != nil {
		fail(r, err)
		return
	}
	if !paused {
		r.ctx.SetStatusCode(fasthttp.StatusConflict)
		r.ctx.SetBodyString("check is not paused")
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, a.checkJSON(r, &c))
}

func (a *API) delete(r *request, id string) {
	c, err := a.b.DeleteCheck(r.project, uuid.MustParse(id))
	if err != nil {
		fail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, a.checkJSON(r, &c))
}

func (a *API) pings(r *request, id string) {
	cid := uuid.MustParse(id)
	pings, err := a.b.Pings(r.project, cid)
	if err != nil {
		fail(r, err)
		return
	}
	out := make([]map[string]any, 0, len(pings))
	for _, p := range pings {
		m := map[string]any{
			"type":        p.Kind,
			"date":        p.Time.UTC().Format("2006-01-02T15:04:05.000000-07:00"),
			"n":           p.N,
			"scheme":      p.Scheme,
			"remote_addr": p.RemoteAddr,
			"method":      p.Method,
			"ua":          p.UA,
			"rid":         nil,
			"body_url":    nil,
		}
		if p.RID != "" {
			m["rid"] = p.RID
		}
		if p.BodySize > 0 {
			m["body_url"] = fmt.Sprintf("%s/api/v%d/checks/%s/pings/%d/body", a.o.BaseURL, r.v, cid, p.N)
		}
		if p.ExitStatus >= 0 {
			m["exitstatus"] = p.ExitStatus
		}
		if p.Duration > 0 {
			m["duration"] = float64((p.Duration+5*time.Millisecond)/(10*time.Millisecond)) / 100
		}
		out = append(out, m)
	}
	writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"pings": out})
}

func (a *API) pingBody(r *request, id string, n uint64) {
	body, err := a.b.PingBody(r.project, uuid.MustParse(id), n)
	if err != nil {
		fail(r, err)
		return
	}
	r.ctx.SetStatusCode(fasthttp.StatusOK)
	r.ctx.SetContentType("text/plain")
	r.ctx.SetBody(body)
}

func (a *API) flips(r *request, id string) {
	q := r.ctx.QueryArgs()
	var from, to time.Time
	for _, p := range []struct {
		key string
		set func(int64)
	}{
		{"seconds", func(n int64) {
			t := a.o.Now().Add(-time.Duration(n) * time.Second)
			if from.IsZero() || t.After(from) {
				from = t
			}
		}},
		{"start", func(n int64) {
			t := time.Unix(n, 0)
			if from.IsZero() || t.After(from) {
				from = t
			}
		}},
		{"end", func(n int64) { to = time.Unix(n, 0) }},
	} {
		raw := q.Peek(p.key)
		if raw == nil {
			continue
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || n < 0 || (p.key == "seconds" && n > 365*24*3600) || n > 1<<40 {
			writeError(r.ctx, fasthttp.StatusBadRequest, "invalid "+p.key)
			return
		}
		if n > 0 { // Healthchecks.io ignores 0, as a falsy value
			p.set(n)
		}
	}
	c, err := a.lookup(r, id)
	if err != nil {
		fail(r, err)
		return
	}
	flips, err := a.b.Flips(r.project, c.ID, from, to)
	if err != nil {
		fail(r, err)
		return
	}
	out := make([]map[string]any, 0, len(flips))
	for _, f := range flips {
		up := 0
		if f.To == "up" {
			up = 1
		}
		out = append(out, map[string]any{"timestamp": isoSecond(f.Time), "up": up})
	}
	writeJSON(r.ctx, fasthttp.StatusOK, out)
}
