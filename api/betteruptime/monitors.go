package betteruptime

import (
	neturl "net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
)

// MonitorsPrefix is the Monitors API.
const MonitorsPrefix = "/api/v2/monitors"

// ServeMonitors handles one request under MonitorsPrefix.
func (a *API) ServeMonitors(ctx *fasthttp.RequestCtx) {
	rest, ok := strings.CutPrefix(string(ctx.Path()), MonitorsPrefix)
	if !ok || rest != "" && rest[0] != '/' {
		fail(ctx, notFound)
		return
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	var n uint64
	if parts[0] != "" {
		var f *wire.Failure
		if n, f = monitorNumber(parts[0]); f != nil {
			fail(ctx, f)
			return
		}
	}
	m := string(ctx.Method())
	read := m == "GET" || m == "HEAD"
	var need wire.Access
	var handle func(wire.Caller)
	switch {
	case parts[0] == "" && read:
		need, handle = wire.Read, func(c wire.Caller) { a.listMonitors(ctx, c) }
	case parts[0] == "" && m == "POST":
		need, handle = wire.Write, func(c wire.Caller) { a.createMonitor(ctx, c) }
	case len(parts) == 1 && read:
		need, handle = wire.Read, func(c wire.Caller) { a.getMonitor(ctx, c, n) }
	case len(parts) == 1 && m == "PATCH":
		need, handle = wire.Write, func(c wire.Caller) { a.updateMonitor(ctx, c, n) }
	case len(parts) == 1 && m == "DELETE":
		need, handle = wire.Write, func(c wire.Caller) { a.deleteMonitor(ctx, c, n) }
	case len(parts) == 2 && parts[1] == "response-times" && read:
		need, handle = wire.Read, func(c wire.Caller) { a.responseTimes(ctx, c, n) }
	case len(parts) == 2 && parts[1] == "sla" && read:
		need, handle = wire.Read, func(c wire.Caller) { a.sla(ctx, c, n) }
	case len(parts) <= 2:
		fail(ctx, wire.Failf(wire.MethodNotAllowed, "Method %s is not allowed here", m))
		return
	default:
		fail(ctx, notFound)
		return
	}
	a.authorized(ctx, need, "monitors", handle)
}

func (a *API) renderMonitor(m *Monitor) MonitorResource {
	return RenderMonitor(strconv.FormatUint(m.Number, 10), m.Attrs, m.State)
}

func (a *API) listMonitors(ctx *fasthttp.RequestCtx, caller wire.Caller) {
	page, f := wire.ParsePage(ctx.QueryArgs(), defaultPerPage, maxPerPage)
	if f != nil {
		fail(ctx, f)
		return
	}
	all, err := a.b.Monitors(caller.Project)
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	url, name := string(ctx.QueryArgs().Peek("url")), string(ctx.QueryArgs().Peek("pronounceable_name"))
	list := all[:0]
	for _, m := range all {
		if (url == "" || m.Attrs.URL == url) && (name == "" || m.Attrs.PronounceableName == name) {
			list = append(list, m)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].State.CreatedAt.Before(list[j].State.CreatedAt) })
	lo, hi := page.Window(len(list))
	out := make([]MonitorResource, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, a.renderMonitor(&list[i]))
	}
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{
		"data":       out,
		"pagination": page.Links(a.o.BaseURL+MonitorsPrefix+filterQuery(url, name), len(list)),
	})
}

func monitorNumber(id string) (uint64, *wire.Failure) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		return 0, notFound
	}
	return n, nil
}

func (a *API) getMonitor(ctx *fasthttp.RequestCtx, caller wire.Caller, n uint64) {
	m, err := a.b.MonitorByNumber(caller.Project, n)
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{"data": a.renderMonitor(&m)})
}

func (a *API) createMonitor(ctx *fasthttp.RequestCtx, caller wire.Caller) {
	attrs, err := ParseMonitorCreate(ctx.PostBody(), a.b.MonitorLimits())
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	m, err := a.b.CreateMonitor(caller.Project, attrs)
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	wire.JSON(ctx, fasthttp.StatusCreated, map[string]any{"data": a.renderMonitor(&m)})
}

func (a *API) updateMonitor(ctx *fasthttp.RequestCtx, caller wire.Caller, n uint64) {
	body := ctx.PostBody()
	lim := a.b.MonitorLimits()
	m, err := a.b.UpdateMonitor(caller.Project, n, func(cur MonitorAttrs) (MonitorAttrs, error) {
		next, err := ApplyMonitorPatch(cur, body, lim)
		if err != nil {
			return cur, err
		}
		return next, nil
	})
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{"data": a.renderMonitor(&m)})
}

func (a *API) deleteMonitor(ctx *fasthttp.RequestCtx, caller wire.Caller, n uint64) {
	if err := a.b.DeleteMonitor(caller.Project, n); err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

func (a *API) responseTimes(ctx *fasthttp.RequestCtx, caller wire.Caller, n uint64) {
	rts, err := a.b.ResponseTimes(caller.Project, n)
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	type point struct {
		At           string  `json:"at"`
		ResponseTime float64 `json:"response_time"`
	}
	type region struct {
		Region        string  `json:"region"`
		ResponseTimes []point `json:"response_times"`
	}
	var regions []region
	for _, rt := range rts {
		i := 0
		for i < len(regions) && regions[i].Region != rt.Region {
			i++
		}
		if i == len(regions) {
			regions = append(regions, region{Region: rt.Region, ResponseTimes: []point{}})
		}
		regions[i].ResponseTimes = append(regions[i].ResponseTimes,
			point{At: rt.At.UTC().Format("2006-01-02T15:04:05.000Z"), ResponseTime: rt.Total.Seconds()})
	}
	if regions == nil {
		regions = []region{}
	}
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{"data": map[string]any{
		"id": strconv.FormatUint(n, 10), "type": "monitor_response_times",
		"attributes": map[string]any{"regions": regions},
	}})
}

// slaRangeError is the seed's answer to a bad from/to.
const slaRangeError = "The data range is invalid. The date format could not be parsed, the start time is in the future, or the end time is after the start time."

func (a *API) sla(ctx *fasthttp.RequestCtx, caller wire.Caller, n uint64) {
	m, err := a.b.MonitorByNumber(caller.Project, n)
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	now := a.o.Now().UTC()
	from, to := m.State.CreatedAt, now
	bad := func() {
		wire.JSON(ctx, fasthttp.StatusBadRequest, map[string]any{"errors": slaRangeError})
	}
	if s := string(ctx.QueryArgs().Peek("from")); s != "" {
		d, err := time.Parse("2006-01-02", s)
		if err != nil || d.After(now) {
			bad()
			return
		}
		from = d
	}
	if s := string(ctx.QueryArgs().Peek("to")); s != "" {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			bad()
			return
		}
		// A to date before the from date is a range the wrong way round, even
		// though the whole of the to date ends where the from date begins.
		if d.Before(from.Truncate(24 * time.Hour)) {
			bad()
			return
		}
		to = d.Add(24 * time.Hour) // the whole of the end date
		if to.After(now) {
			to = now
		}
	}
	if to.Before(from) {
		bad()
		return
	}
	incidents, err := a.b.Incidents(caller.Project, n)
	if err != nil {
		fail(ctx, wire.FromBackend(err))
		return
	}
	s := SLA(incidents, from, to, now)
	wire.JSON(ctx, fasthttp.StatusOK, map[string]any{"data": map[string]any{
		"id": strconv.FormatUint(n, 10), "type": "monitor_sla", "attributes": s,
	}})
}

// SLAFigures is Better Uptime's availability summary; durations in seconds.
type SLAFigures struct {
	Availability      float64 `json:"availability"`
	TotalDowntime     int64   `json:"total_downtime"`
	NumberOfIncidents int     `json:"number_of_incidents"`
	LongestIncident   int64   `json:"longest_incident"`
	AverageIncident   int64   `json:"average_incident"`
}

// SLA summarises the incidents overlapping [from, to]; an open incident lasts
// until now. Availability is a percentage with two decimals.
func SLA(incidents []store.Incident, from, to, now time.Time) SLAFigures {
	var s SLAFigures
	var total, longest time.Duration
	for _, in := range incidents {
		end := in.End
		if end.IsZero() {
			end = now
		}
		lo, hi := maxTime(in.Start, from), minTime(end, to)
		if !hi.After(lo) {
			continue
		}
		d := hi.Sub(lo)
		total += d
		longest = max(longest, d)
		s.NumberOfIncidents++
	}
	s.TotalDowntime, s.LongestIncident = int64(total.Seconds()), int64(longest.Seconds())
	if s.NumberOfIncidents > 0 {
		s.AverageIncident = int64((total / time.Duration(s.NumberOfIncidents)).Seconds())
	}
	s.Availability = 100
	if span := to.Sub(from); span > 0 {
		s.Availability = float64(int64((1-float64(total)/float64(span))*10000+0.5)) / 100
	}
	return s
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// filterQuery is the list's filters as a query string, for its page links.
func filterQuery(url, name string) string {
	q := neturl.Values{}
	if url != "" {
		q.Set("url", url)
	}
	if name != "" {
		q.Set("pronounceable_name", name)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
