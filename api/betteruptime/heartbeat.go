package betteruptime

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
)

// maxName is vigilo's limit, Opsgenie's, so every name made here can be
// addressed there too.
const maxName = 200

// change is a create or update request: nil fields were not given. numbers are
// the nullable numbers given, a nil value setting one to null.
type change struct {
	name          *string
	period, grace *time.Duration
	call, sms     *bool
	email, push   *bool
	criticalAlert *bool
	paused        *bool
	teamName      *string
	policyID      *string
	setPolicy     bool
	numbers       []nullable // team_wait, heartbeat_group_id, sort_index
}

type nullable struct {
	value *int64
	dst   func(*store.DialectAttrs) **int64
}

// decode reads a create (full: name, period and grace required) or an update.
func (a *API) decode(body []byte, full bool) (change, *wire.Failure) {
	var ch change
	o, f := wire.DecodeObject(body)
	if f != nil {
		return ch, f
	}
	ch.name = o.String("name", maxName)
	if ch.name != nil && strings.TrimSpace(*ch.name) == "" {
		o.Problem("name", "can't be blank")
	}
	ch.period = a.seconds(o, "period")
	ch.grace = a.seconds(o, "grace")
	if full {
		for _, k := range []string{"name", "period", "grace"} {
			if !o.Has(k) || o.IsNull(k) {
				o.Problem(k, "can't be blank")
			}
		}
	}
	ch.call, ch.sms = o.Bool("call"), o.Bool("sms")
	ch.email, ch.push = o.Bool("email"), o.Bool("push")
	ch.criticalAlert = o.Bool("critical_alert")
	ch.paused = o.Bool("paused")
	ch.teamName = o.String("team_name", 0)
	// A policy id is a string in answers; clients send either a string or a number.
	if o.Has("policy_id") {
		ch.setPolicy = true
		if o.IsString("policy_id") {
			ch.policyID = o.String("policy_id", 0)
		} else if n := o.Int("policy_id", false); n != nil {
			s := strconv.FormatInt(*n, 10)
			ch.policyID = &s
		}
	}
	for _, n := range []struct {
		key string
		min int64
		dst func(*store.DialectAttrs) **int64
	}{
		{"team_wait", 0, func(d *store.DialectAttrs) **int64 { return &d.TeamWait }},
		{"heartbeat_group_id", 1, func(d *store.DialectAttrs) **int64 { return &d.HeartbeatGroup }},
		{"sort_index", 0, func(d *store.DialectAttrs) **int64 { return &d.SortIndex }},
	} {
		if !o.Has(n.key) {
			continue
		}
		// Group ids come as numbers or as numeric strings.
		v := o.Int(n.key, true)
		if v != nil && *v < n.min {
			o.Problem(n.key, "must be greater than or equal to %d", n.min)
		}
		ch.numbers = append(ch.numbers, nullable{value: v, dst: n.dst})
	}
	return ch, o.Failure("invalid heartbeat")
}

// seconds reads a period in seconds, checked against the server's bounds.
func (a *API) seconds(o *wire.Object, key string) *time.Duration {
	n := o.Int(key, true)
	if n == nil {
		return nil
	}
	min, max := int64(a.o.MinPeriod/time.Second), int64(a.o.MaxPeriod/time.Second)
	switch {
	case *n < min:
		o.Problem(key, "must be greater than or equal to %d (the server's --min-period)", min)
		return nil
	case *n > max:
		o.Problem(key, "must be less than or equal to %d", max)
		return nil
	}
	d := time.Duration(*n) * time.Second
	return &d
}

// apply writes ch onto c, in the check's actor.
func (ch change) apply(c *store.Check) {
	if ch.name != nil {
		c.Name = *ch.name
	}
	if ch.period != nil {
		// A Better Uptime heartbeat is a plain period: a cron check becomes simple.
		c.Kind, c.Timeout = "simple", *ch.period
		if c.Dialect != nil && c.Dialect.IntervalUnit != "" {
			// Opsgenie's unit of an earlier interval no longer describes it.
			c.Dialect = c.Dialect.Clone()
			c.Dialect.IntervalUnit = ""
		}
	}
	if ch.grace != nil {
		c.Grace = *ch.grace
	}
	attrs := ch.call != nil || ch.sms != nil || ch.email != nil || ch.push != nil ||
		ch.criticalAlert != nil || ch.teamName != nil || ch.setPolicy || len(ch.numbers) > 0
	if !attrs {
		return
	}
	d := c.Dialect.Clone()
	for _, b := range []struct {
		v   *bool
		dst *bool
	}{{ch.call, &d.Call}, {ch.sms, &d.SMS}, {ch.criticalAlert, &d.CriticalAlert}} {
		if b.v != nil {
			*b.dst = *b.v
		}
	}
	if ch.email != nil {
		d.Email = ch.email
	}
	if ch.push != nil {
		d.Push = ch.push
	}
	if ch.teamName != nil {
		d.TeamName = *ch.teamName
	}
	if ch.setPolicy {
		d.PolicyID = ""
		if ch.policyID != nil {
			d.PolicyID = *ch.policyID
		}
	}
	for _, n := range ch.numbers {
		*n.dst(d) = n.value
	}
	c.Dialect = d
}

// attributes are a heartbeat's, as Better Uptime shows them.
type attributes struct {
	URL              string  `json:"url"`
	Name             string  `json:"name"`
	Period           int64   `json:"period"`
	Grace            int64   `json:"grace"`
	Call             bool    `json:"call"`
	SMS              bool    `json:"sms"`
	Email            bool    `json:"email"`
	Push             bool    `json:"push"`
	CriticalAlert    bool    `json:"critical_alert"`
	TeamWait         *int64  `json:"team_wait"`
	HeartbeatGroupID *int64  `json:"heartbeat_group_id"`
	TeamName         *string `json:"team_name"`
	SortIndex        *int64  `json:"sort_index"`
	PolicyID         *string `json:"policy_id"`
	Paused           bool    `json:"paused"`
	PausedAt         *string `json:"paused_at"`
	CreatedAt        string  `json:"created_at"`
	UpdatedAt        string  `json:"updated_at"`
	Status           string  `json:"status"`
}

// resource is one heartbeat in JSON:API's shape.
type resource struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Attributes attributes `json:"attributes"`
}

// statuses maps the check's status onto Better Uptime's: a check that never
// pinged (new, or started before a first ping) is pending; grace is still up.
var statuses = map[string]string{"new": "pending", "up": "up", "grace": "up", "down": "down", "paused": "paused"}

// stamp formats a time as Better Uptime does: UTC, milliseconds, Z.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (a *API) render(c *store.Check) resource {
	status := a.b.Status(c, false)
	at := attributes{
		URL:       a.o.BaseURL + PingPrefix + token(c.ID),
		Name:      c.Name,
		Period:    int64(c.Timeout / time.Second),
		Grace:     int64(c.Grace / time.Second),
		Email:     true,
		Push:      true,
		Paused:    status == "paused",
		CreatedAt: stamp(c.Created),
		UpdatedAt: stamp(c.Created),
		Status:    statuses[status],
	}
	if at.Status == "" {
		at.Status = "pending"
	}
	if d := c.Dialect; d != nil {
		at.Call, at.SMS, at.CriticalAlert = d.Call, d.SMS, d.CriticalAlert
		if d.Email != nil {
			at.Email = *d.Email
		}
		if d.Push != nil {
			at.Push = *d.Push
		}
		at.TeamWait, at.HeartbeatGroupID, at.SortIndex = d.TeamWait, d.HeartbeatGroup, d.SortIndex
		if d.TeamName != "" {
			at.TeamName = &d.TeamName
		}
		if d.PolicyID != "" {
			at.PolicyID = &d.PolicyID
		}
		if d.UpdatedAt != 0 {
			at.UpdatedAt = stamp(time.Unix(0, d.UpdatedAt))
		}
	}
	if at.Paused {
		// When a dialect paused it; a check paused through the Healthchecks.io API
		// shows its last change instead.
		p := at.UpdatedAt
		if c.Dialect != nil && c.Dialect.PausedAt != 0 {
			p = stamp(time.Unix(0, c.Dialect.PausedAt))
		}
		at.PausedAt = &p
	}
	return resource{
		ID:         strconv.FormatUint(store.CheckNumber(c.ID), 10),
		Type:       "heartbeat",
		Attributes: at,
	}
}
