package opsgenie

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
)

// Opsgenie's field limits.
const (
	maxName         = 200
	maxDescription  = 10000
	maxAlertMessage = 130
	maxAlertTags    = 20
	maxAlertTag     = 50
	defaultPriority = "P3"
)

// units are Opsgenie's interval units, longest first.
var units = []struct {
	name string
	d    time.Duration
}{{"days", 24 * time.Hour}, {"hours", time.Hour}, {"minutes", time.Minute}}

func unitOf(name string) (time.Duration, bool) {
	for _, u := range units {
		if u.name == name {
			return u.d, true
		}
	}
	return 0, false
}

// change is an add or update request: nil fields were not given.
type change struct {
	name         *string
	description  *string
	interval     *int64
	unit         *string
	enabled      *bool
	team         *store.DialectAttrs // OwnerTeamID and OwnerTeamName only
	alertMessage *string
	alertTags    []string
	setTags      bool
	priority     *string
}

// decode reads an add (full: name, interval, intervalUnit and enabled required) or
// a partial update. A name in an update is ignored: Opsgenie's update has none
// (its SDK sends the path's name back).
func (a *API) decode(body []byte, full bool) (change, *wire.Failure) {
	var ch change
	o, f := wire.DecodeObject(body)
	if f != nil {
		return ch, f
	}
	if full {
		ch.name = o.String("name", maxName)
		if ch.name != nil && strings.TrimSpace(*ch.name) == "" {
			o.Problem("name", "must not be blank")
		} else if ch.name == nil && !o.Has("name") || o.IsNull("name") {
			o.Problem("name", "is mandatory")
		}
	}
	ch.description = o.String("description", maxDescription)
	// Opsgenie's own update example sends the interval as a string ("5").
	ch.interval = o.Int("interval", true)
	if ch.interval != nil && *ch.interval < 1 {
		o.Problem("interval", "must be at least 1")
	}
	ch.unit = o.String("intervalUnit", 0)
	if ch.unit != nil {
		if _, ok := unitOf(*ch.unit); !ok {
			o.Problem("intervalUnit", "must be one of minutes, hours, days")
		}
	}
	ch.enabled = o.Bool("enabled")
	if full {
		for _, k := range []string{"interval", "intervalUnit", "enabled"} {
			if !o.Has(k) || o.IsNull(k) {
				o.Problem(k, "is mandatory")
			}
		}
	}
	if t := o.Object("ownerTeam"); t != nil {
		ch.team = &store.DialectAttrs{}
		if id := t.String("id", 0); id != nil {
			ch.team.OwnerTeamID = *id
		}
		if name := t.String("name", 0); name != nil {
			ch.team.OwnerTeamName = *name
		}
	}
	ch.alertMessage = o.String("alertMessage", maxAlertMessage)
	ch.alertTags, ch.setTags = o.Strings("alertTags", maxAlertTags, maxAlertTag)
	ch.priority = o.String("alertPriority", 0)
	if ch.priority != nil {
		switch *ch.priority {
		case "P1", "P2", "P3", "P4", "P5":
		default:
			o.Problem("alertPriority", "must be one of P1, P2, P3, P4, P5")
		}
	}
	if f := o.Failure("invalid heartbeat"); f != nil {
		return ch, f
	}
	if full {
		// Both are given: the period can be checked before anything is made.
		if f := a.checkPeriod(*ch.interval, *ch.unit); f != nil {
			return ch, f
		}
	}
	return ch, nil
}

// checkPeriod checks interval × unit against the server's period bounds.
func (a *API) checkPeriod(interval int64, unit string) *wire.Failure {
	d, _ := unitOf(unit)
	switch {
	case interval > int64(a.o.MaxPeriod/d):
		return &wire.Failure{Kind: wire.Invalid, Message: "invalid heartbeat", Fields: []wire.FieldProblem{
			{Field: "interval", Problem: "must be at most " + spell(a.o.MaxPeriod) + " in all"}}}
	case time.Duration(interval)*d < a.o.MinPeriod:
		return &wire.Failure{Kind: wire.Invalid, Message: "invalid heartbeat", Fields: []wire.FieldProblem{
			{Field: "interval", Problem: "must be at least " + spell(a.o.MinPeriod) + " in all (the server's --min-period)"}}}
	}
	return nil
}

// spell writes d in the largest of Opsgenie's units that divides it.
func spell(d time.Duration) string {
	for _, u := range units {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + " " + u.name
		}
	}
	return d.String()
}

// apply writes ch onto c. It runs in the check's actor, against its current
// configuration: an interval without a unit keeps the current unit, and the other
// way round. A period out of bounds refuses the whole change.
func (a *API) apply(ch change, c *store.Check) error {
	if ch.interval != nil || ch.unit != nil {
		n, unit := interval(c)
		if ch.interval != nil {
			n = *ch.interval
		}
		if ch.unit != nil {
			unit = *ch.unit
		}
		if f := a.checkPeriod(n, unit); f != nil {
			return f
		}
		d, _ := unitOf(unit)
		// An Opsgenie heartbeat is a plain period, so a cron check becomes simple.
		c.Kind, c.Timeout = "simple", time.Duration(n)*d
		c.Dialect = c.Dialect.Clone()
		c.Dialect.IntervalUnit = unit
	}
	if ch.description != nil {
		c.Desc = *ch.description
	}
	if ch.team != nil || ch.alertMessage != nil || ch.setTags || ch.priority != nil {
		c.Dialect = c.Dialect.Clone()
		if ch.team != nil { // {} makes the heartbeat global again, as in Opsgenie
			c.Dialect.OwnerTeamID, c.Dialect.OwnerTeamName = ch.team.OwnerTeamID, ch.team.OwnerTeamName
		}
		if ch.alertMessage != nil {
			c.Dialect.AlertMessage = *ch.alertMessage
		}
		if ch.setTags {
			c.Dialect.AlertTags = ch.alertTags
		}
		if ch.priority != nil {
			c.Dialect.AlertPriority = *ch.priority
		}
	}
	return nil
}

// interval is c's timeout as Opsgenie's interval and unit: in the unit it was
// given in when that still divides it, else the longest unit that does. A
// timeout that is no whole number of minutes (set through another dialect) is
// rounded up to one, as Opsgenie cannot say less.
func interval(c *store.Check) (int64, string) {
	t := c.Timeout
	if c.Dialect != nil {
		if d, ok := unitOf(c.Dialect.IntervalUnit); ok && t >= d && t%d == 0 {
			return int64(t / d), c.Dialect.IntervalUnit
		}
	}
	for _, u := range units {
		if t >= u.d && t%u.d == 0 {
			return int64(t / u.d), u.name
		}
	}
	return max(1, int64((t+time.Minute-1)/time.Minute)), "minutes"
}

type team struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// heartbeatJSON is a heartbeat as Opsgenie shows it.
type heartbeatJSON struct {
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Interval      int64    `json:"interval"`
	IntervalUnit  string   `json:"intervalUnit"`
	Enabled       bool     `json:"enabled"`
	Expired       bool     `json:"expired"`
	OwnerTeam     *team    `json:"ownerTeam,omitempty"`
	AlertMessage  string   `json:"alertMessage"`
	AlertTags     []string `json:"alertTags"`
	AlertPriority string   `json:"alertPriority"`
}

// render maps a check onto Opsgenie's heartbeat: enabled is "not paused",
// expired is "down".
func (a *API) render(c *store.Check) heartbeatJSON {
	n, unit := interval(c)
	status := a.b.Status(c, false)
	h := heartbeatJSON{
		Name:          c.Name,
		Description:   c.Desc,
		Interval:      n,
		IntervalUnit:  unit,
		Enabled:       status != "paused",
		Expired:       status == "down",
		AlertMessage:  c.Name + " is expired",
		AlertTags:     []string{},
		AlertPriority: defaultPriority,
	}
	if d := c.Dialect; d != nil {
		if d.OwnerTeamID != "" || d.OwnerTeamName != "" {
			h.OwnerTeam = &team{ID: d.OwnerTeamID, Name: d.OwnerTeamName}
		}
		if d.AlertMessage != "" {
			h.AlertMessage = d.AlertMessage
		}
		if d.AlertTags != nil {
			h.AlertTags = d.AlertTags
		}
		if d.AlertPriority != "" {
			h.AlertPriority = d.AlertPriority
		}
	}
	return h
}

// brief is the short form update, enable and disable answer with.
func (a *API) brief(c *store.Check) any {
	status := a.b.Status(c, false)
	return struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
		Expired bool   `json:"expired"`
	}{c.Name, status != "paused", status == "down"}
}

// sortByName orders a list as a reader looks names up: by name, then oldest first.
func sortByName(checks []store.Check) {
	slices.SortFunc(checks, func(x, y store.Check) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return strings.Compare(x.ID.String(), y.ID.String())
	})
}
