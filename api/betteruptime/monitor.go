package betteruptime

import (
	"bytes"
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilo/vigilo/api/wire"
)

// This file is the model of Better Uptime's Monitors API
// (../shared/seeds/betteruptime-monitors-api.txt): what a create or update
// request may say, what it leaves as it was, and how a monitor is shown. It
// knows nothing of storage or probes, so the engine can call it inside a
// monitor's actor and refuse a change before anything is written.

// Monitor types, as the seed lists them.
const (
	MonitorStatus             = "status"
	MonitorExpectedStatusCode = "expected_status_code"
	MonitorKeyword            = "keyword"
	MonitorKeywordAbsence     = "keyword_absence"
	MonitorPing               = "ping"
	MonitorTCP                = "tcp"
	MonitorUDP                = "udp"
	MonitorSMTP               = "smtp"
	MonitorPOP                = "pop"
	MonitorIMAP               = "imap"
)

var (
	monitorTypes = []string{
		MonitorStatus, MonitorExpectedStatusCode, MonitorKeyword, MonitorKeywordAbsence,
		MonitorPing, MonitorTCP, MonitorUDP, MonitorSMTP, MonitorPOP, MonitorIMAP,
	}
	allRegions   = []string{"us", "eu", "as", "au"}
	allDays      = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	httpMethods  = []string{"get", "head", "post", "put", "patch"}
	ipVersions   = []string{"ipv4", "ipv6"}
	expiryDays   = []int64{1, 2, 3, 7, 14, 30, 60}
	timeoutSteps = []int64{2, 3, 5, 10, 15, 30, 45, 60}
	// Mail servers listen on known ports only; Better Uptime refuses others.
	mailPorts = map[string][]int{
		MonitorSMTP: {25, 465, 587},
		MonitorPOP:  {110, 995},
		MonitorIMAP: {143, 993},
	}
)

// Bounds of Better Uptime's own, where the seed gives none.
const (
	buMinPeriod   = 30 * time.Second
	maxMonitorSec = 86_400
	maxURL        = 2048
)

// readOnlyAttrs are shown in answers; a client that sends a monitor back as it
// read it must not be refused for them. team_name picks the team of a global
// token, which vigilo's project keys make moot.
var readOnlyAttrs = []string{"status", "last_checked_at", "created_at", "updated_at", "paused_at", "team_name"}

// RequestHeader is one custom header of an HTTP monitor. ID is assigned by the
// model, so a PATCH can address the header later.
type RequestHeader struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MonitorAttrs is a monitor's configuration as Better Uptime's API sets it.
// Pointers are the attributes Better Uptime shows as null when unset; durations
// are whole seconds on the wire.
type MonitorAttrs struct {
	URL               string
	PronounceableName string
	MonitorType       string
	MonitorGroupID    *int64
	PolicyID          *string
	// ExpirationPolicyID is the policy for SSL and domain expiry alerts; the
	// real service has it and Terraform sends it on every request.
	ExpirationPolicyID  *int64
	ExpectedStatusCodes []int
	RequiredKeyword     *string

	Call, SMS, Email, Push, CriticalAlert bool
	TeamWait                              *int64
	Paused                                bool

	// Port is a port, or for mail servers a comma-separated list of them.
	Port    *string
	Regions []string

	CheckFrequency     time.Duration
	RequestTimeout     time.Duration
	RecoveryPeriod     time.Duration
	ConfirmationPeriod time.Duration

	// Days before expiry to alert; nil disables the check.
	DomainExpiration, SSLExpiration *int64

	VerifySSL, FollowRedirects, RememberCookies bool
	// HTTPMethod is lower case, as Better Uptime shows it.
	HTTPMethod     string
	RequestBody    string
	RequestHeaders []RequestHeader
	AuthUsername   string
	AuthPassword   string

	// MaintenanceFrom and MaintenanceTo are "HH:MM:SS" in MaintenanceTimezone,
	// both set or both nil.
	MaintenanceFrom, MaintenanceTo *string
	MaintenanceTimezone            string
	MaintenanceDays                []string
	// IPVersion is "ipv4", "ipv6", or nil for either.
	IPVersion *string

	// LastHeaderID is the last request header id handed out; ids are never
	// reused, so a stale PATCH cannot touch a header that replaced another.
	LastHeaderID uint64
}

// IsHTTP reports whether the monitor's url is an http(s) URL rather than a host.
func (a MonitorAttrs) IsHTTP() bool {
	switch a.MonitorType {
	case MonitorStatus, MonitorExpectedStatusCode, MonitorKeyword, MonitorKeywordAbsence:
		return true
	}
	return false
}

// DefaultMonitorAttrs is a new monitor before its create request is applied:
// Better Uptime's defaults.
func DefaultMonitorAttrs() MonitorAttrs {
	return MonitorAttrs{
		MonitorType:         MonitorStatus,
		ExpectedStatusCodes: []int{},
		Email:               true,
		Push:                true,
		Regions:             slices.Clone(allRegions),
		CheckFrequency:      180 * time.Second,
		RequestTimeout:      30 * time.Second,
		RecoveryPeriod:      180 * time.Second,
		VerifySSL:           true,
		FollowRedirects:     true,
		RememberCookies:     true,
		HTTPMethod:          "get",
		RequestHeaders:      []RequestHeader{},
		MaintenanceTimezone: "UTC",
		MaintenanceDays:     slices.Clone(allDays),
	}
}

// MonitorLimits are the server's bounds on a monitor.
type MonitorLimits struct {
	// MinPeriod replaces Better Uptime's 30 s floor on check_frequency, and on
	// confirmation_period and recovery_period when not 0, so tests can run in
	// seconds. Zero keeps 30 s.
	MinPeriod time.Duration
	// RejectUnknown refuses attributes the model does not know with a 422.
	// Better Uptime, and this dialect's heartbeats, ignore them.
	RejectUnknown bool
}

// floor is the shortest period allowed, in whole seconds.
func (o MonitorLimits) floor() int64 {
	d := buMinPeriod
	if o.MinPeriod > 0 {
		d = o.MinPeriod
	}
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// ParseMonitorCreate reads a POST /api/v2/monitors body onto Better Uptime's
// defaults. The error is a *wire.Failure: BadRequest for a body that is not
// JSON, Invalid (422) naming each attribute at fault.
func ParseMonitorCreate(body []byte, o MonitorLimits) (MonitorAttrs, error) {
	a, f := decodeMonitor(DefaultMonitorAttrs(), body, o, true)
	if f != nil {
		return MonitorAttrs{}, f
	}
	return a, nil
}

// ApplyMonitorPatch applies a PATCH body to cur and checks the result as a
// whole, so a change of monitor_type is refused if the attributes the new type
// needs are missing. cur is not modified; on error it stands as it was.
func ApplyMonitorPatch(cur MonitorAttrs, body []byte, o MonitorLimits) (MonitorAttrs, error) {
	a, f := decodeMonitor(cur.clone(), body, o, false)
	if f != nil {
		return cur, f
	}
	return a, nil
}

// clone copies a's slices, so changing the copy leaves a as it was.
func (a MonitorAttrs) clone() MonitorAttrs {
	a.ExpectedStatusCodes = slices.Clone(a.ExpectedStatusCodes)
	a.Regions = slices.Clone(a.Regions)
	a.RequestHeaders = slices.Clone(a.RequestHeaders)
	a.MaintenanceDays = slices.Clone(a.MaintenanceDays)
	return a
}

// decodeMonitor applies body to a: first each attribute on its own, then, if
// all were well-formed, the rules that tie attributes together, on the result.
func decodeMonitor(a MonitorAttrs, body []byte, lim MonitorLimits, create bool) (MonitorAttrs, *wire.Failure) {
	o, f := wire.DecodeObject(body)
	if f != nil {
		return a, f
	}
	// wire.Object hides raw values; arrays of objects and of numbers need them.
	raw := map[string]json.RawMessage{}
	if b := bytes.TrimSpace(body); len(b) > 0 {
		_ = json.Unmarshal(b, &raw) // DecodeObject has checked it is an object
	}
	if lim.RejectUnknown {
		keys := make([]string, 0, len(raw))
		for k := range raw {
			if _, known := monitorSetters[k]; !known && !slices.Contains(readOnlyAttrs, k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys) // map order must not decide the answer's
		for _, k := range keys {
			o.Problem(k, "is not a known attribute")
		}
	}
	d := &decoder{o: o, raw: raw, a: &a, lim: lim}
	for _, k := range monitorOrder {
		if o.Has(k) {
			monitorSetters[k](d, k)
		}
	}
	if create && a.PronounceableName == "" {
		// Better Uptime names a monitor after what it checks.
		a.PronounceableName = a.URL
	}
	if f := o.Failure("invalid monitor"); f != nil {
		return a, f
	}
	a.validate(o)
	if f := o.Failure("invalid monitor"); f != nil {
		return a, f
	}
	return a, nil
}

// decoder carries one request's reading.
type decoder struct {
	o   *wire.Object
	raw map[string]json.RawMessage
	a   *MonitorAttrs
	lim MonitorLimits
}

// monitorOrder is the order attributes are read in, so problems come in the
// seed's order whatever the body's.
var monitorOrder = []string{
	"url", "pronounceable_name", "monitor_type", "monitor_group_id", "policy_id",
	"expiration_policy_id", "expected_status_codes", "required_keyword",
	"call", "sms", "email", "push", "critical_alert", "team_wait", "paused",
	"port", "regions", "check_frequency", "request_timeout", "recovery_period",
	"confirmation_period", "domain_expiration", "ssl_expiration", "verify_ssl",
	"follow_redirects", "remember_cookies", "http_method", "request_body",
	"request_headers", "auth_username", "auth_password", "maintenance_from",
	"maintenance_to", "maintenance_timezone", "maintenance_days", "ip_version",
}

var monitorSetters = map[string]func(d *decoder, k string){
	"url": func(d *decoder, k string) {
		if s := d.o.String(k, maxURL); s != nil {
			d.a.URL = strings.TrimSpace(*s)
		} else if d.o.IsNull(k) {
			d.a.URL = ""
		}
	},
	"pronounceable_name": func(d *decoder, k string) {
		// Blank or null falls back to the url, as a name is needed to call out.
		if s := d.o.String(k, maxName); s != nil && strings.TrimSpace(*s) != "" {
			d.a.PronounceableName = *s
		} else if s != nil || d.o.IsNull(k) {
			d.a.PronounceableName = ""
		}
	},
	"monitor_type": func(d *decoder, k string) {
		if d.o.IsNull(k) {
			d.o.Problem(k, "can't be blank")
		} else if s := d.o.String(k, 0); s != nil {
			if !slices.Contains(monitorTypes, *s) {
				d.o.Problem(k, "is not included in the list (%s)", strings.Join(monitorTypes, ", "))
			} else {
				d.a.MonitorType = *s
			}
		}
	},
	"monitor_group_id": func(d *decoder, k string) { d.a.MonitorGroupID = d.nullableInt(k, 1) },
	"policy_id": func(d *decoder, k string) {
		// An id is a string in answers; clients send either a string or a number.
		d.a.PolicyID = nil
		if d.o.IsString(k) {
			if s := d.o.String(k, 0); s != nil && *s != "" {
				d.a.PolicyID = s
			}
		} else if n := d.o.Int(k, false); n != nil {
			s := strconv.FormatInt(*n, 10)
			d.a.PolicyID = &s
		}
	},
	"expiration_policy_id": func(d *decoder, k string) { d.a.ExpirationPolicyID = d.nullableInt(k, 1) },
	"expected_status_codes": func(d *decoder, k string) {
		if d.o.IsNull(k) {
			d.a.ExpectedStatusCodes = []int{}
			return
		}
		var items []json.RawMessage
		if !isArray(d.raw[k]) || json.Unmarshal(d.raw[k], &items) != nil {
			d.o.Problem(k, "must be an array of integers")
			return
		}
		codes := []int{}
		for _, it := range items {
			// Rails casts "200" to 200; clients built on it send either.
			n, err := strconv.Atoi(strings.Trim(string(it), `"`))
			if err != nil || n < 100 || n > 599 {
				d.o.Problem(k, "must be HTTP status codes (100 to 599)")
				return
			}
			if !slices.Contains(codes, n) {
				codes = append(codes, n)
			}
		}
		d.a.ExpectedStatusCodes = codes
	},
	"required_keyword": func(d *decoder, k string) { d.a.RequiredKeyword = d.nullableString(k) },
	"call":             func(d *decoder, k string) { d.bool(k, &d.a.Call) },
	"sms":              func(d *decoder, k string) { d.bool(k, &d.a.SMS) },
	"email":            func(d *decoder, k string) { d.bool(k, &d.a.Email) },
	"push":             func(d *decoder, k string) { d.bool(k, &d.a.Push) },
	"critical_alert":   func(d *decoder, k string) { d.bool(k, &d.a.CriticalAlert) },
	"team_wait":        func(d *decoder, k string) { d.a.TeamWait = d.nullableInt(k, 0) },
	"paused":           func(d *decoder, k string) { d.bool(k, &d.a.Paused) },
	"port": func(d *decoder, k string) {
		d.a.Port = nil
		// The seed's port is a string; a bare number is the same port.
		if d.o.IsString(k) {
			if s := d.o.String(k, 0); s != nil && strings.TrimSpace(*s) != "" {
				p := strings.ReplaceAll(*s, " ", "")
				d.a.Port = &p
			}
		} else if n := d.o.Int(k, false); n != nil {
			p := strconv.FormatInt(*n, 10)
			d.a.Port = &p
		}
	},
	"regions": func(d *decoder, k string) {
		if d.o.IsNull(k) {
			d.o.Problem(k, "can't be blank")
			return
		}
		list, ok := d.o.Strings(k, 0, 0)
		if !ok {
			return
		}
		if len(list) == 0 {
			d.o.Problem(k, "can't be blank")
			return
		}
		for _, r := range list {
			if !slices.Contains(allRegions, r) {
				d.o.Problem(k, "is not included in the list (%s)", strings.Join(allRegions, ", "))
				return
			}
		}
		// Kept in Better Uptime's order, once each, whatever the request's.
		d.a.Regions = slices.DeleteFunc(slices.Clone(allRegions), func(r string) bool { return !slices.Contains(list, r) })
	},
	"check_frequency":     func(d *decoder, k string) { d.period(k, &d.a.CheckFrequency, false) },
	"recovery_period":     func(d *decoder, k string) { d.period(k, &d.a.RecoveryPeriod, true) },
	"confirmation_period": func(d *decoder, k string) { d.period(k, &d.a.ConfirmationPeriod, true) },
	"request_timeout": func(d *decoder, k string) {
		n := d.int(k)
		if n == nil {
			return
		}
		if !slices.Contains(timeoutSteps, *n) {
			d.o.Problem(k, "is not included in the list (%s)", joinInts(timeoutSteps))
			return
		}
		d.a.RequestTimeout = time.Duration(*n) * time.Second
	},
	"domain_expiration": func(d *decoder, k string) { d.a.DomainExpiration = d.expiry(k) },
	"ssl_expiration":    func(d *decoder, k string) { d.a.SSLExpiration = d.expiry(k) },
	"verify_ssl":        func(d *decoder, k string) { d.bool(k, &d.a.VerifySSL) },
	"follow_redirects":  func(d *decoder, k string) { d.bool(k, &d.a.FollowRedirects) },
	"remember_cookies":  func(d *decoder, k string) { d.bool(k, &d.a.RememberCookies) },
	"http_method": func(d *decoder, k string) {
		if d.o.IsNull(k) {
			d.o.Problem(k, "can't be blank")
			return
		}
		// The seed lists them in capitals and shows them in lower case.
		if s := d.o.String(k, 0); s != nil {
			m := strings.ToLower(*s)
			if !slices.Contains(httpMethods, m) {
				d.o.Problem(k, "is not included in the list (%s)", strings.Join(httpMethods, ", "))
				return
			}
			d.a.HTTPMethod = m
		}
	},
	"request_body":    func(d *decoder, k string) { d.string(k, &d.a.RequestBody) },
	"request_headers": func(d *decoder, k string) { d.headers(k) },
	"auth_username":   func(d *decoder, k string) { d.string(k, &d.a.AuthUsername) },
	"auth_password":   func(d *decoder, k string) { d.string(k, &d.a.AuthPassword) },
	"maintenance_from": func(d *decoder, k string) {
		d.a.MaintenanceFrom = d.timeOfDay(k)
	},
	"maintenance_to": func(d *decoder, k string) {
		d.a.MaintenanceTo = d.timeOfDay(k)
	},
	"maintenance_timezone": func(d *decoder, k string) {
		// Rails time zone names ("Eastern Time (US & Canada)") and IANA ones.
		if s := d.o.String(k, 100); s != nil && strings.TrimSpace(*s) != "" {
			if _, err := ResolveTimezone(*s); err != nil {
				d.o.Problem(k, "is not a known time zone")
				return
			}
			d.a.MaintenanceTimezone = *s
		} else if s != nil || d.o.IsNull(k) {
			d.a.MaintenanceTimezone = "UTC"
		}
	},
	"maintenance_days": func(d *decoder, k string) {
		if d.o.IsNull(k) {
			d.a.MaintenanceDays = slices.Clone(allDays)
			return
		}
		list, ok := d.o.Strings(k, 0, 0)
		if !ok {
			return
		}
		for _, day := range list {
			if !slices.Contains(allDays, day) {
				d.o.Problem(k, "is not included in the list (%s)", strings.Join(allDays, ", "))
				return
			}
		}
		d.a.MaintenanceDays = slices.DeleteFunc(slices.Clone(allDays), func(day string) bool { return !slices.Contains(list, day) })
	},
	"ip_version": func(d *decoder, k string) {
		if d.o.IsNull(k) {
			d.a.IPVersion = nil
			return
		}
		if s := d.o.String(k, 0); s != nil {
			if !slices.Contains(ipVersions, *s) {
				d.o.Problem(k, "is not included in the list (%s)", strings.Join(ipVersions, ", "))
				return
			}
			d.a.IPVersion = s
		}
	},
}

func (d *decoder) bool(k string, dst *bool) {
	if b := d.o.Bool(k); b != nil {
		*dst = *b
	}
}

func (d *decoder) string(k string, dst *string) {
	if s := d.o.String(k, 0); s != nil {
		*dst = *s
	} else if d.o.IsNull(k) {
		*dst = ""
	}
}

// nullableString is k's value; null or "" unsets it.
func (d *decoder) nullableString(k string) *string {
	s := d.o.String(k, 0)
	if s == nil || *s == "" {
		return nil
	}
	return s
}

// int reads a number attribute; numeric strings are taken, as Rails casts them.
func (d *decoder) int(k string) *int64 {
	if d.o.IsNull(k) {
		d.o.Problem(k, "can't be blank")
		return nil
	}
	return d.o.Int(k, true)
}

// nullableInt reads a number that null unsets.
func (d *decoder) nullableInt(k string, min int64) *int64 {
	n := d.o.Int(k, true)
	if n != nil && *n < min {
		d.o.Problem(k, "must be greater than or equal to %d", min)
		return nil
	}
	return n
}

// period reads seconds between the server's floor and a day; zeroOK lets 0
// through, which for confirmation and recovery means "at once".
func (d *decoder) period(k string, dst *time.Duration, zeroOK bool) {
	n := d.int(k)
	if n == nil {
		return
	}
	floor := d.lim.floor()
	switch {
	case *n == 0 && zeroOK:
	case *n < floor:
		if zeroOK {
			d.o.Problem(k, "must be 0 or greater than or equal to %d", floor)
		} else {
			d.o.Problem(k, "must be greater than or equal to %d", floor)
		}
		return
	case *n > maxMonitorSec:
		d.o.Problem(k, "must be less than or equal to %d", maxMonitorSec)
		return
	}
	*dst = time.Duration(*n) * time.Second
}

// expiry reads days before an expiry to alert; null turns the alert off.
func (d *decoder) expiry(k string) *int64 {
	n := d.o.Int(k, true)
	if n != nil && !slices.Contains(expiryDays, *n) {
		d.o.Problem(k, "is not included in the list (%s)", joinInts(expiryDays))
		return nil
	}
	return n
}

// timeOfDay reads "HH:MM:SS"; null unsets it.
func (d *decoder) timeOfDay(k string) *string {
	s := d.o.String(k, 0)
	if s == nil {
		return nil
	}
	if !isTimeOfDay(*s) {
		d.o.Problem(k, "must be a time of day as HH:MM:SS")
		return nil
	}
	return s
}

func isTimeOfDay(s string) bool {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return false
	}
	for i, lim := range []int{24, 60, 60} {
		part := s[i*3 : i*3+2]
		n, err := strconv.Atoi(part)
		if err != nil || part[0] == '+' || part[0] == '-' || n >= lim {
			return false
		}
	}
	return true
}

// headers applies request_headers as Rails nested attributes do: no id adds a
// header, an id changes that header, an id with _destroy removes it. The
// operations apply in order to a copy, so a refused request changes nothing.
func (d *decoder) headers(k string) {
	if d.o.IsNull(k) {
		return
	}
	var items []json.RawMessage
	if !isArray(d.raw[k]) || json.Unmarshal(d.raw[k], &items) != nil {
		d.o.Problem(k, "must be an array of objects")
		return
	}
	hs := slices.Clone(d.a.RequestHeaders)
	next := d.a.LastHeaderID
	bad := false
	problem := func(field, format string, args ...any) {
		d.o.Problem(k+field, format, args...)
		bad = true
	}
	for _, it := range items {
		e, f := wire.DecodeObject(it)
		if f != nil || !bytes.HasPrefix(bytes.TrimSpace(it), []byte("{")) {
			problem("", "must be an array of objects")
			continue
		}
		id, hasID := headerID(e)
		if e.Has("id") && !hasID {
			problem(".id", "must be a header id")
			continue
		}
		destroy, ok := railsBool(it)
		if !ok {
			problem("._destroy", "must be a boolean")
			continue
		}
		name, value := e.String("name", 0), e.String("value", 0)
		if ef := e.Failure(""); ef != nil {
			for _, p := range ef.Fields {
				problem("."+p.Field, "%s", p.Problem)
			}
			continue
		}
		i := -1
		if hasID {
			i = slices.IndexFunc(hs, func(h RequestHeader) bool { return h.ID == id })
			if i < 0 {
				problem("", "has no header with id %s", id)
				continue
			}
		}
		switch {
		case destroy && i >= 0:
			hs = slices.Delete(hs, i, i+1)
		case destroy:
			// Rails drops a new record marked for destruction.
		case i >= 0:
			if name != nil {
				hs[i].Name = *name
			}
			if value != nil {
				hs[i].Value = *value
			}
			bad = !validHeader(hs[i], problem) || bad
		default:
			h := RequestHeader{}
			if name != nil {
				h.Name = *name
			}
			if value != nil {
				h.Value = *value
			}
			if validHeader(h, problem) {
				next++
				h.ID = strconv.FormatUint(next, 10)
				hs = append(hs, h)
			}
		}
	}
	if !bad {
		d.a.RequestHeaders, d.a.LastHeaderID = hs, next
	}
}

// isArray reports whether v is a JSON array; Unmarshal alone would take null.
func isArray(v json.RawMessage) bool { return bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) }

// headerID is an element's id, a string or a number.
func headerID(e *wire.Object) (string, bool) {
	if e.IsString("id") {
		s := e.String("id", 0)
		if s == nil || *s == "" {
			return "", false
		}
		return *s, true
	}
	if n := e.Int("id", false); n != nil {
		return strconv.FormatInt(*n, 10), true
	}
	return "", false
}

// railsBool reads an element's _destroy as Rails casts it: Terraform sends
// "true", forms send "1".
func railsBool(elem json.RawMessage) (v, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(elem, &m) != nil {
		return false, false
	}
	raw, has := m["_destroy"]
	if !has {
		return false, true
	}
	switch strings.ToLower(strings.Trim(string(raw), `"`)) {
	case "true", "1", "t":
		return true, true
	case "false", "0", "f", "", "null":
		return false, true
	}
	return false, false
}

// validHeader checks a header can be sent as it is: a header name is a token,
// and a line break in a value would forge another header.
func validHeader(h RequestHeader, problem func(field, format string, args ...any)) bool {
	ok := true
	switch {
	case strings.TrimSpace(h.Name) == "":
		problem(".name", "can't be blank")
		ok = false
	case strings.ContainsFunc(h.Name, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}):
		problem(".name", "is not a valid header name")
		ok = false
	}
	switch {
	case h.Value == "":
		problem(".value", "can't be blank")
		ok = false
	case strings.ContainsAny(h.Value, "\r\n\x00"):
		problem(".value", "must not contain line breaks")
		ok = false
	}
	return ok
}

// validate checks the rules that tie attributes together, on the monitor as the
// request leaves it.
func (a *MonitorAttrs) validate(o *wire.Object) {
	switch {
	case a.URL == "":
		o.Problem("url", "can't be blank")
	case a.IsHTTP() && !isHTTPURL(a.URL), !a.IsHTTP() && !isHost(a.URL):
		// The seed's own 422 example.
		o.Problem("base", "URL is invalid.")
	}
	switch a.MonitorType {
	case MonitorKeyword, MonitorKeywordAbsence, MonitorUDP:
		if a.RequiredKeyword == nil || strings.TrimSpace(*a.RequiredKeyword) == "" {
			o.Problem("required_keyword", "can't be blank")
		}
	case MonitorExpectedStatusCode:
		if len(a.ExpectedStatusCodes) == 0 {
			o.Problem("expected_status_codes", "can't be blank")
		}
	}
	switch a.MonitorType {
	case MonitorTCP, MonitorUDP:
		if a.Port == nil {
			o.Problem("port", "can't be blank")
		} else if n, err := strconv.Atoi(*a.Port); err != nil || n < 1 || n > 65535 || (*a.Port)[0] == '+' {
			o.Problem("port", "must be a port number (1 to 65535)")
		}
	case MonitorSMTP, MonitorPOP, MonitorIMAP:
		allowed := mailPorts[a.MonitorType]
		if a.Port == nil {
			o.Problem("port", "can't be blank")
		} else if !portsIn(*a.Port, allowed) {
			o.Problem("port", "must be %s, or several of them separated by commas", joinPorts(allowed))
		}
	}
	if (a.MaintenanceFrom == nil) != (a.MaintenanceTo == nil) {
		if a.MaintenanceFrom == nil {
			o.Problem("maintenance_from", "can't be blank when maintenance_to is set")
		} else {
			o.Problem("maintenance_to", "can't be blank when maintenance_from is set")
		}
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return (scheme == "http" || scheme == "https") && u.Hostname() != ""
}

// isHost accepts a host name or an IP address, without scheme, port or path.
func isHost(s string) bool {
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); ip != nil {
		return true
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// portsIn reports whether list is one or more of allowed, comma-separated, each once.
func portsIn(list string, allowed []int) bool {
	var seen []int
	for p := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(p)
		if err != nil || !slices.Contains(allowed, n) || slices.Contains(seen, n) || p[0] == '+' {
			return false
		}
		seen = append(seen, n)
	}
	return true
}

func joinInts(ns []int64) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(parts, ", ")
}

func joinPorts(ps []int) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// MonitorState is what the engine knows of a monitor beyond its configuration.
// Zero times are shown as null (last_checked_at, paused_at).
type MonitorState struct {
	// Status is one of the seed's: paused, pending, maintenance, up,
	// validating, down; empty is pending, or paused for a paused monitor.
	Status                                        string
	LastCheckedAt, CreatedAt, UpdatedAt, PausedAt time.Time
}

// MonitorResource is one monitor as Better Uptime shows it: marshal it as the
// "data" of an answer, or as an item of a list's.
type MonitorResource struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Attributes MonitorAttributes `json:"attributes"`
}

// MonitorAttributes are a monitor's attributes on the wire: the seed's, then the
// real service's that its clients (Terraform) read back.
type MonitorAttributes struct {
	URL                 string          `json:"url"`
	PronounceableName   string          `json:"pronounceable_name"`
	MonitorType         string          `json:"monitor_type"`
	MonitorGroupID      *string         `json:"monitor_group_id"`
	LastCheckedAt       *string         `json:"last_checked_at"`
	Status              string          `json:"status"`
	PolicyID            *string         `json:"policy_id"`
	ExpirationPolicyID  *int64          `json:"expiration_policy_id"`
	RequiredKeyword     *string         `json:"required_keyword"`
	VerifySSL           bool            `json:"verify_ssl"`
	CheckFrequency      int64           `json:"check_frequency"`
	Call                bool            `json:"call"`
	SMS                 bool            `json:"sms"`
	Email               bool            `json:"email"`
	Push                bool            `json:"push"`
	CriticalAlert       bool            `json:"critical_alert"`
	TeamWait            *int64          `json:"team_wait"`
	HTTPMethod          string          `json:"http_method"`
	RequestTimeout      int64           `json:"request_timeout"`
	RecoveryPeriod      int64           `json:"recovery_period"`
	RequestHeaders      []RequestHeader `json:"request_headers"`
	RequestBody         string          `json:"request_body"`
	FollowRedirects     bool            `json:"follow_redirects"`
	RememberCookies     bool            `json:"remember_cookies"`
	Paused              bool            `json:"paused"`
	PausedAt            *string         `json:"paused_at"`
	CreatedAt           string          `json:"created_at"`
	UpdatedAt           string          `json:"updated_at"`
	SSLExpiration       *int64          `json:"ssl_expiration"`
	DomainExpiration    *int64          `json:"domain_expiration"`
	Regions             []string        `json:"regions"`
	Port                *string         `json:"port"`
	ConfirmationPeriod  int64           `json:"confirmation_period"`
	ExpectedStatusCodes []int           `json:"expected_status_codes"`
	AuthUsername        string          `json:"auth_username"`
	AuthPassword        string          `json:"auth_password"`
	MaintenanceFrom     *string         `json:"maintenance_from"`
	MaintenanceTo       *string         `json:"maintenance_to"`
	MaintenanceTimezone string          `json:"maintenance_timezone"`
	MaintenanceDays     []string        `json:"maintenance_days"`
	IPVersion           *string         `json:"ip_version"`
}

// RenderMonitor shows monitor id with attributes a and state st. Slices are
// never null, as Better Uptime shows an empty list as [].
func RenderMonitor(id string, a MonitorAttrs, st MonitorState) MonitorResource {
	at := MonitorAttributes{
		URL:                 a.URL,
		PronounceableName:   a.PronounceableName,
		MonitorType:         a.MonitorType,
		Status:              st.Status,
		PolicyID:            cloneString(a.PolicyID),
		ExpirationPolicyID:  cloneInt(a.ExpirationPolicyID),
		RequiredKeyword:     cloneString(a.RequiredKeyword),
		VerifySSL:           a.VerifySSL,
		CheckFrequency:      seconds(a.CheckFrequency),
		Call:                a.Call,
		SMS:                 a.SMS,
		Email:               a.Email,
		Push:                a.Push,
		CriticalAlert:       a.CriticalAlert,
		TeamWait:            cloneInt(a.TeamWait),
		HTTPMethod:          a.HTTPMethod,
		RequestTimeout:      seconds(a.RequestTimeout),
		RecoveryPeriod:      seconds(a.RecoveryPeriod),
		RequestHeaders:      nonNil(a.RequestHeaders),
		RequestBody:         a.RequestBody,
		FollowRedirects:     a.FollowRedirects,
		RememberCookies:     a.RememberCookies,
		Paused:              a.Paused,
		CreatedAt:           stamp(st.CreatedAt),
		UpdatedAt:           stamp(st.UpdatedAt),
		SSLExpiration:       cloneInt(a.SSLExpiration),
		DomainExpiration:    cloneInt(a.DomainExpiration),
		Regions:             nonNil(a.Regions),
		Port:                cloneString(a.Port),
		ConfirmationPeriod:  seconds(a.ConfirmationPeriod),
		ExpectedStatusCodes: nonNil(a.ExpectedStatusCodes),
		AuthUsername:        a.AuthUsername,
		AuthPassword:        a.AuthPassword,
		MaintenanceFrom:     cloneString(a.MaintenanceFrom),
		MaintenanceTo:       cloneString(a.MaintenanceTo),
		MaintenanceTimezone: a.MaintenanceTimezone,
		MaintenanceDays:     nonNil(a.MaintenanceDays),
		IPVersion:           cloneString(a.IPVersion),
	}
	if at.PronounceableName == "" {
		at.PronounceableName = a.URL
	}
	if at.Status == "" {
		at.Status = "pending"
		if a.Paused {
			at.Status = "paused"
		}
	}
	if a.MonitorGroupID != nil {
		// The seed shows group ids as strings.
		s := strconv.FormatInt(*a.MonitorGroupID, 10)
		at.MonitorGroupID = &s
	}
	if !st.LastCheckedAt.IsZero() {
		s := stamp(st.LastCheckedAt)
		at.LastCheckedAt = &s
	}
	if a.Paused {
		// A monitor paused before the engine kept the moment shows its last change.
		s := at.UpdatedAt
		if !st.PausedAt.IsZero() {
			s = stamp(st.PausedAt)
		}
		at.PausedAt = &s
	}
	return MonitorResource{ID: id, Type: "monitor", Attributes: at}
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// cloneString and cloneInt keep a rendered answer from aliasing the attrs it
// was made from.
func cloneString(p *string) *string {
	if p == nil {
		return nil
	}
	s := *p
	return &s
}

func cloneInt(p *int64) *int64 {
	if p == nil {
		return nil
	}
	n := *p
	return &n
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return slices.Clone(s)
}
