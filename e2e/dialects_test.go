package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// End-to-end tests of the Opsgenie Heartbeat API (/v2/heartbeats) and the Better
// Uptime Heartbeats API (/api/v2/heartbeats, /api/v1/heartbeat/<token>), and of
// the three dialects over one set of checks.

// dialectCall sends a request with "Authorization: <auth>" (if any) and returns
// the status, headers and body.
func dialectCall(t *testing.T, method, url, auth, body string) (int, http.Header, []byte) {
	t.Helper()
	h := map[string]string{}
	if auth != "" {
		h["Authorization"] = auth
	}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	return request(t, method, url, h, body)
}

// ogReply is every Opsgenie answer: its envelope, successes and errors alike.
type ogReply struct {
	Data      json.RawMessage   `json:"data"`
	Result    string            `json:"result"`
	Message   string            `json:"message"`
	Errors    map[string]string `json:"errors"`
	Took      float64           `json:"took"`
	RequestID string            `json:"requestId"`
}

type ogHeartbeat struct {
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Interval      int      `json:"interval"`
	IntervalUnit  string   `json:"intervalUnit"`
	Enabled       bool     `json:"enabled"`
	Expired       bool     `json:"expired"`
	OwnerTeam     *ogTeam  `json:"ownerTeam"`
	AlertMessage  string   `json:"alertMessage"`
	AlertTags     []string `json:"alertTags"`
	AlertPriority string   `json:"alertPriority"`
}

type ogTeam struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// og calls the Opsgenie API with "GenieKey <key>" (none if key is ""), fails the
// test on another status than want, and checks the envelope every answer carries.
func (s *server) og(method, path, key, body string, want int) ogReply {
	s.t.Helper()
	auth := ""
	if key != "" {
		auth = "GenieKey " + key
	}
	code, h, b := dialectCall(s.t, method, s.url+path, auth, body)
	if code != want {
		s.t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, code, want, b)
	}
	var r ogReply
	if err := json.Unmarshal(b, &r); err != nil {
		s.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
	}
	if r.RequestID == "" || r.Took <= 0 || h.Get("X-Request-Id") != r.RequestID || h.Get("X-RateLimit-State") != "OK" {
		s.t.Fatalf("%s %s: no Opsgenie envelope (requestId, took, headers): %s %v", method, path, b, h)
	}
	if code >= 400 && r.Message == "" {
		s.t.Fatalf("%s %s: error without a message: %s", method, path, b)
	}
	return r
}

func (r ogReply) heartbeat(t *testing.T) ogHeartbeat {
	t.Helper()
	var h ogHeartbeat
	if err := json.Unmarshal(r.Data, &h); err != nil {
		t.Fatalf("decode heartbeat %s: %v", r.Data, err)
	}
	return h
}

func (r ogReply) heartbeats(t *testing.T) []ogHeartbeat {
	t.Helper()
	var l struct{ Heartbeats []ogHeartbeat }
	if err := json.Unmarshal(r.Data, &l); err != nil {
		t.Fatalf("decode heartbeats %s: %v", r.Data, err)
	}
	return l.Heartbeats
}

type buResource struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Attributes struct {
		URL              string  `json:"url"`
		Name             string  `json:"name"`
		Period           int     `json:"period"`
		Grace            int     `json:"grace"`
		Call             bool    `json:"call"`
		SMS              bool    `json:"sms"`
		Email            bool    `json:"email"`
		Push             bool    `json:"push"`
		CriticalAlert    bool    `json:"critical_alert"`
		TeamWait         *int    `json:"team_wait"`
		HeartbeatGroupID *int    `json:"heartbeat_group_id"`
		SortIndex        *int    `json:"sort_index"`
		PolicyID         *string `json:"policy_id"`
		Paused           bool    `json:"paused"`
		PausedAt         *string `json:"paused_at"`
		CreatedAt        string  `json:"created_at"`
		UpdatedAt        string  `json:"updated_at"`
		Status           string  `json:"status"`
	} `json:"attributes"`
}

type buList struct {
	Data       []buResource `json:"data"`
	Pagination struct {
		First string  `json:"first"`
		Last  string  `json:"last"`
		Prev  *string `json:"prev"`
		Next  *string `json:"next"`
	} `json:"pagination"`
}

// bu calls the Better Uptime API with "Bearer <key>" (none if key is ""), fails
// the test on another status than want, and decodes the answer into out.
func (s *server) bu(method, path, key, body string, want int, out any) []byte {
	s.t.Helper()
	auth := ""
	if key != "" {
		auth = "Bearer " + key
	}
	code, _, b := dialectCall(s.t, method, s.url+path, auth, body)
	if code != want {
		s.t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return b
}

func (s *server) buGet(id string) buResource {
	s.t.Helper()
	var r struct{ Data buResource }
	s.bu("GET", "/api/v2/heartbeats/"+id, apiKey, "", 200, &r)
	return r.Data
}

// buPing pings a Better Uptime ping URL (absolute, as the API hands it out).
func (s *server) buPing(method, url, body string) (int, string) {
	s.t.Helper()
	code, _, b := dialectCall(s.t, method, url, "", body)
	return code, string(b)
}

// hcUUID is the Healthchecks.io uuid of a Better Uptime ping URL: its token is the
// uuid's 32 hex digits.
func hcUUID(t *testing.T, pingURL string) string {
	t.Helper()
	tok := pingURL[strings.LastIndex(pingURL, "/")+1:]
	if len(tok) != 32 {
		t.Fatalf("ping URL %s: token %q is not 32 hex digits", pingURL, tok)
	}
	return tok[:8] + "-" + tok[8:12] + "-" + tok[12:16] + "-" + tok[16:20] + "-" + tok[20:]
}

func (s *server) hcCheck(id string) map[string]any {
	s.t.Helper()
	var c map[string]any
	s.api("GET", "/api/v3/checks/"+id, apiKey, "", 200, &c)
	return c
}

func TestOpsgenieHeartbeats(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	add := s.og("POST", "/v2/heartbeats", apiKey, `{"name": "Nightly Backup", "description": "db dump",
		"interval": 10, "intervalUnit": "minutes", "enabled": true, "ownerTeam": {"name": "ops_team"},
		"alertMessage": "backup is late", "alertTags": ["db", "nightly"], "alertPriority": "P2"}`, 201)
	h := add.heartbeat(t)
	if h.Name != "Nightly Backup" || h.Description != "db dump" || h.Interval != 10 || h.IntervalUnit != "minutes" ||
		!h.Enabled || h.Expired || h.OwnerTeam == nil || h.OwnerTeam.Name != "ops_team" ||
		h.AlertMessage != "backup is late" || strings.Join(h.AlertTags, ",") != "db,nightly" || h.AlertPriority != "P2" {
		t.Fatalf("added: %+v", h)
	}
	// Defaults: alert message from the name, priority P3, no tags, no team.
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "hourly", "interval": 1, "intervalUnit": "hours", "enabled": true}`, 201)
	got := s.og("GET", "/v2/heartbeats/hourly", apiKey, "", 200).heartbeat(t)
	if got.AlertMessage != "hourly is expired" || got.AlertPriority != "P3" || got.AlertTags == nil ||
		len(got.AlertTags) != 0 || got.OwnerTeam != nil || got.Interval != 1 || got.IntervalUnit != "hours" {
		t.Fatalf("defaults: %+v", got)
	}
	// The same check through Healthchecks.io: interval → timeout, default grace,
	// description → desc, new until its first ping.
	var list struct{ Checks []map[string]any }
	s.api("GET", "/api/v3/checks/", apiKey, "", 200, &list)
	var uuid string
	for _, c := range list.Checks {
		if c["name"] == "Nightly Backup" {
			uuid = c["uuid"].(string)
			if c["timeout"] != 600.0 || c["grace"] != 3600.0 || c["desc"] != "db dump" || c["status"] != "new" || c["manual_resume"] != true {
				t.Fatalf("as a Healthchecks.io check: %v", c)
			}
		}
	}
	if uuid == "" {
		t.Fatalf("Healthchecks.io list has no Nightly Backup: %v", list.Checks)
	}
	// List: every check, sorted by name.
	hs := s.og("GET", "/v2/heartbeats", apiKey, "", 200).heartbeats(t)
	if len(hs) != 2 || hs[0].Name != "Nightly Backup" || hs[1].Name != "hourly" {
		t.Fatalf("list: %+v", hs)
	}
	// Ping with each method Opsgenie takes: 202 PONG, and the check is up.
	for i, m := range []string{"GET", "POST", "PUT", "PATCH"} {
		r := s.og(m, "/v2/heartbeats/Nightly%20Backup/ping", apiKey, "", 202)
		if r.Result != "PONG - Heartbeat received" {
			t.Fatalf("%s ping: %+v", m, r)
		}
		if c := s.hcCheck(uuid); c["n_pings"] != float64(i+1) || c["status"] != "up" {
			t.Fatalf("after %s ping: %v", m, c)
		}
	}
	// Partial update: the interval as Opsgenie's own example sends it (a string),
	// a new unit, and an empty ownerTeam making the heartbeat global.
	up := s.og("PATCH", "/v2/heartbeats/Nightly%20Backup", apiKey,
		`{"interval": "5", "intervalUnit": "hours", "description": "updated", "ownerTeam": {}, "alertPriority": "P1"}`, 200)
	var brief struct {
		Name             string
		Enabled, Expired bool
	}
	if json.Unmarshal(up.Data, &brief) != nil || brief.Name != "Nightly Backup" || !brief.Enabled || brief.Expired {
		t.Fatalf("update answer: %s", up.Data)
	}
	got = s.og("GET", "/v2/heartbeats/Nightly%20Backup", apiKey, "", 200).heartbeat(t)
	if got.Interval != 5 || got.IntervalUnit != "hours" || got.Description != "updated" || got.OwnerTeam != nil ||
		got.AlertPriority != "P1" || got.AlertMessage != "backup is late" {
		t.Fatalf("after update: %+v", got)
	}
	if c := s.hcCheck(uuid); c["timeout"] != 18000.0 || c["desc"] != "updated" {
		t.Fatalf("update through Healthchecks.io: %v", c)
	}
	// An interval alone keeps the unit.
	s.og("PATCH", "/v2/heartbeats/Nightly%20Backup", apiKey, `{"interval": 2}`, 200)
	if got = s.og("GET", "/v2/heartbeats/Nightly%20Backup", apiKey, "", 200).heartbeat(t); got.Interval != 2 || got.IntervalUnit != "hours" {
		t.Fatalf("interval alone: %+v", got)
	}
	// Disable pauses it; a ping of a disabled heartbeat is logged but wakes nothing.
	var dis struct{ Enabled, Expired bool }
	json.Unmarshal(s.og("POST", "/v2/heartbeats/Nightly%20Backup/disable", apiKey, "", 200).Data, &dis)
	if dis.Enabled {
		t.Fatalf("disable: %+v", dis)
	}
	s.og("GET", "/v2/heartbeats/Nightly%20Backup/ping", apiKey, "", 202)
	if c := s.hcCheck(uuid); c["status"] != "paused" || c["n_pings"] != 5.0 {
		t.Fatalf("ping while disabled: %v", c)
	}
	// Enable (POST, PUT and PATCH all work) resumes monitoring from the next ping;
	// enabling an enabled heartbeat changes nothing.
	json.Unmarshal(s.og("PUT", "/v2/heartbeats/Nightly%20Backup/enable", apiKey, "", 200).Data, &dis)
	if !dis.Enabled || s.hcCheck(uuid)["status"] != "new" {
		t.Fatalf("enable: %+v %v", dis, s.hcCheck(uuid))
	}
	s.og("GET", "/v2/heartbeats/Nightly%20Backup/ping", apiKey, "", 202)
	s.og("PATCH", "/v2/heartbeats/Nightly%20Backup/enable", apiKey, "", 200)
	if c := s.hcCheck(uuid); c["status"] != "up" {
		t.Fatalf("enable of an enabled heartbeat reset it: %v", c)
	}
	// PATCH enabled=false with other fields: both apply.
	s.og("PATCH", "/v2/heartbeats/hourly", apiKey, `{"enabled": false, "alertTags": ["x"]}`, 200)
	if got = s.og("GET", "/v2/heartbeats/hourly", apiKey, "", 200).heartbeat(t); got.Enabled || len(got.AlertTags) != 1 {
		t.Fatalf("patch enabled=false: %+v", got)
	}
	// expired is down: a failure signal through the Healthchecks.io ping URL.
	s.ping("/ping/" + uuid + "/fail")
	if got = s.og("GET", "/v2/heartbeats/Nightly%20Backup", apiKey, "", 200).heartbeat(t); !got.Expired || !got.Enabled {
		t.Fatalf("after a failure: %+v", got)
	}
	// A ping of an unknown name answers PONG as Opsgenie does, and makes nothing.
	if r := s.og("POST", "/v2/heartbeats/no-such-heartbeat/ping", apiKey, "", 202); r.Result != "PONG - Heartbeat received" {
		t.Fatalf("unknown ping: %+v", r)
	}
	if hs = s.og("GET", "/v2/heartbeats", apiKey, "", 200).heartbeats(t); len(hs) != 2 {
		t.Fatalf("an unknown ping made a heartbeat: %+v", hs)
	}
	// Delete; gone from both APIs.
	if r := s.og("DELETE", "/v2/heartbeats/Nightly%20Backup", apiKey, "", 200); r.Result != "Deleted" {
		t.Fatalf("delete: %+v", r)
	}
	s.og("GET", "/v2/heartbeats/Nightly%20Backup", apiKey, "", 404)
	s.api("GET", "/api/v3/checks/"+uuid, apiKey, "", 404, nil)
	// Any character in a name, a slash included, addressed escaped.
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "team/a b?", "interval": 3, "intervalUnit": "days", "enabled": false}`, 201)
	if got = s.og("GET", "/v2/heartbeats/team%2Fa%20b%3F", apiKey, "", 200).heartbeat(t); got.Name != "team/a b?" || got.Enabled || got.Interval != 3 {
		t.Fatalf("escaped name: %+v", got)
	}
}

func TestOpsgenieErrors(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "hb", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, 201)
	// Authentication: no key, another scheme, an unknown key.
	for _, auth := range []string{"", "Bearer " + apiKey, "GenieKey wrong-key"} {
		code, _, b := dialectCall(t, "GET", s.url+"/v2/heartbeats", auth, "")
		var r ogReply
		if code != 401 || json.Unmarshal(b, &r) != nil || r.Message != "Could not authenticate" || r.RequestID == "" {
			t.Fatalf("auth %q: %d %s", auth, code, b)
		}
	}
	// A read-only key may read and ping, and nothing else.
	s.og("GET", "/v2/heartbeats", roKey, "", 200)
	s.og("GET", "/v2/heartbeats/hb", roKey, "", 200)
	s.og("GET", "/v2/heartbeats/hb/ping", roKey, "", 202)
	for _, r := range [][3]string{
		{"POST", "/v2/heartbeats", `{"name": "ro", "interval": 1, "intervalUnit": "minutes", "enabled": true}`},
		{"PATCH", "/v2/heartbeats/hb", `{"description": "x"}`}, {"DELETE", "/v2/heartbeats/hb", ""},
		{"POST", "/v2/heartbeats/hb/enable", ""}, {"POST", "/v2/heartbeats/hb/disable", ""},
	} {
		s.og(r[0], r[1], roKey, r[2], 403)
	}
	if hs := s.og("GET", "/v2/heartbeats", apiKey, "", 200).heartbeats(t); len(hs) != 1 || hs[0].Description != "" || !hs[0].Enabled {
		t.Fatalf("a read-only key changed something: %+v", hs)
	}
	// A name already taken, by this API or another dialect, is Opsgenie's conflict.
	s.create(apiKey, `{"name": "from-hc"}`)
	for _, name := range []string{"hb", "from-hc"} {
		r := s.og("POST", "/v2/heartbeats", apiKey, `{"name": "`+name+`", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, 409)
		if !strings.Contains(r.Message, "["+name+"]") {
			t.Fatalf("conflict message: %+v", r)
		}
	}
	// Field rules: each answer is 422 with the field in errors.
	valid := `"name": "new", "interval": 1, "intervalUnit": "minutes", "enabled": true`
	for _, tc := range []struct{ body, field string }{
		{`{"interval": 1, "intervalUnit": "minutes", "enabled": true}`, "name"},
		{`{"name": "", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, "name"},
		{`{"name": "` + strings.Repeat("n", 201) + `", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, "name"},
		{`{"name": 5, "interval": 1, "intervalUnit": "minutes", "enabled": true}`, "name"},
		{`{` + valid + `, "description": "` + strings.Repeat("d", 10001) + `"}`, "description"},
		{`{"name": "new", "intervalUnit": "minutes", "enabled": true}`, "interval"},
		{`{"name": "new", "interval": 0, "intervalUnit": "minutes", "enabled": true}`, "interval"},
		{`{"name": "new", "interval": 1.5, "intervalUnit": "minutes", "enabled": true}`, "interval"},
		{`{"name": "new", "interval": "often", "intervalUnit": "minutes", "enabled": true}`, "interval"},
		{`{"name": "new", "interval": 366, "intervalUnit": "days", "enabled": true}`, "interval"},
		{`{"name": "new", "interval": 1, "enabled": true}`, "intervalUnit"},
		{`{"name": "new", "interval": 1, "intervalUnit": "weeks", "enabled": true}`, "intervalUnit"},
		{`{"name": "new", "interval": 1, "intervalUnit": "minutes"}`, "enabled"},
		{`{"name": "new", "interval": 1, "intervalUnit": "minutes", "enabled": "yes"}`, "enabled"},
		{`{` + valid + `, "alertMessage": "` + strings.Repeat("m", 131) + `"}`, "alertMessage"},
		{`{` + valid + `, "alertTags": [` + strings.Repeat(`"t", `, 20) + `"t"]}`, "alertTags"},
		{`{` + valid + `, "alertTags": ["` + strings.Repeat("t", 51) + `"]}`, "alertTags"},
		{`{` + valid + `, "alertTags": "t"}`, "alertTags"},
		{`{` + valid + `, "alertPriority": "P6"}`, "alertPriority"},
		{`{` + valid + `, "ownerTeam": "ops"}`, "ownerTeam"},
		{`{` + valid + `, "ownerTeam": {"name": 1}}`, "ownerTeam.name"},
	} {
		r := s.og("POST", "/v2/heartbeats", apiKey, tc.body, 422)
		if r.Errors[tc.field] == "" {
			t.Errorf("%.80s: errors %v do not name %s", tc.body, r.Errors, tc.field)
		}
	}
	// At the limits is fine.
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "`+strings.Repeat("n", 200)+`", "interval": 365, "intervalUnit": "days",
		"enabled": true, "description": "`+strings.Repeat("d", 10000)+`", "alertMessage": "`+strings.Repeat("m", 130)+`",
		"alertTags": [`+strings.Repeat(`"`+strings.Repeat("t", 50)+`", `, 19)+`"t"], "alertPriority": "P5"}`, 201)
	// A refused update writes nothing, not even its valid fields.
	r := s.og("PATCH", "/v2/heartbeats/hb", apiKey, `{"description": "changed", "interval": 0}`, 422)
	if r.Errors["interval"] == "" {
		t.Fatalf("patch errors: %+v", r)
	}
	s.og("PATCH", "/v2/heartbeats/hb", apiKey, `{"description": "changed", "interval": 366, "intervalUnit": "days"}`, 422)
	if h := s.og("GET", "/v2/heartbeats/hb", apiKey, "", 200).heartbeat(t); h.Description != "" || h.Interval != 1 {
		t.Fatalf("a refused update changed the heartbeat: %+v", h)
	}
	// Not JSON is 400; JSON that is not an object is 422.
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": `, 400)
	s.og("POST", "/v2/heartbeats", apiKey, `["hb"]`, 422)
	s.og("PATCH", "/v2/heartbeats/hb", apiKey, `nope`, 400)
	// Unknown names: 404 naming the heartbeat, for everything but ping.
	for _, r := range [][3]string{
		{"GET", "/v2/heartbeats/nope", ""}, {"PATCH", "/v2/heartbeats/nope", `{"description": "x"}`},
		{"DELETE", "/v2/heartbeats/nope", ""}, {"POST", "/v2/heartbeats/nope/enable", ""}, {"POST", "/v2/heartbeats/nope/disable", ""},
	} {
		if got := s.og(r[0], r[1], apiKey, r[2], 404); !strings.Contains(got.Message, "[nope]") {
			t.Fatalf("%v: %+v", r, got)
		}
	}
	// Wrong methods and paths.
	s.og("PUT", "/v2/heartbeats", apiKey, "", 405)
	s.og("DELETE", "/v2/heartbeats/hb/ping", apiKey, "", 405)
	s.og("GET", "/v2/heartbeats/hb/enable", apiKey, "", 405)
	s.og("GET", "/v2/heartbeats/hb/other", apiKey, "", 404)
	// Another project's heartbeat is unknown, and its name free.
	var p keys
	s.admin("POST", "/admin/v1/projects", `{"name": "other"}`, 201, &p)
	s.og("GET", "/v2/heartbeats/hb", p.APIKey, "", 404)
	s.og("POST", "/v2/heartbeats", p.APIKey, `{"name": "hb", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, 201)
	if hs := s.og("GET", "/v2/heartbeats", p.APIKey, "", 200).heartbeats(t); len(hs) != 1 {
		t.Fatalf("other project's list: %+v", hs)
	}
}

// An interval below --min-period is refused, in the server's terms.
func TestDialectsMinPeriod(t *testing.T) {
	t.Parallel()
	s := start(t, "", "--min-period", "2m")
	r := s.og("POST", "/v2/heartbeats", apiKey, `{"name": "x", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, 422)
	if !strings.Contains(r.Errors["interval"], "2 minutes") {
		t.Fatalf("below --min-period: %+v", r)
	}
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "x", "interval": 2, "intervalUnit": "minutes", "enabled": true}`, 201)
	var e struct{ Errors map[string][]string }
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "y", "period": 60, "grace": 119}`, 422, &e)
	if len(e.Errors["period"]) == 0 || len(e.Errors["grace"]) == 0 || !strings.Contains(e.Errors["period"][0], "120") {
		t.Fatalf("below --min-period: %+v", e)
	}
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "y", "period": 120, "grace": 120}`, 201, nil)
}

func TestBetterUptimeHeartbeats(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var created struct{ Data buResource }
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "Testing heartbeat", "period": 10800, "grace": 300}`, 201, &created)
	h := created.Data
	a := h.Attributes
	if _, err := strconv.ParseUint(h.ID, 10, 64); err != nil || h.Type != "heartbeat" || a.Name != "Testing heartbeat" ||
		a.Period != 10800 || a.Grace != 300 || a.Status != "pending" || a.Call || a.SMS || !a.Email || !a.Push ||
		a.Paused || a.PausedAt != nil || a.TeamWait != nil || a.HeartbeatGroupID != nil ||
		!strings.HasPrefix(a.URL, s.url+"/api/v1/heartbeat/") {
		t.Fatalf("created: %+v", h)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", a.CreatedAt); err != nil {
		t.Fatalf("created_at %q: %v", a.CreatedAt, err)
	}
	if got := s.buGet(h.ID); got.ID != h.ID || got.Attributes.URL != a.URL || got.Attributes.Name != a.Name {
		t.Fatalf("get: %+v", got)
	}
	uuid := hcUUID(t, a.URL)
	if c := s.hcCheck(uuid); c["timeout"] != 10800.0 || c["grace"] != 300.0 || c["name"] != "Testing heartbeat" {
		t.Fatalf("as a Healthchecks.io check: %v", c)
	}
	// The alerting and group fields are kept and shown.
	var full struct{ Data buResource }
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "full", "period": 60, "grace": 60, "call": true, "sms": true,
		"email": false, "push": false, "critical_alert": true, "team_wait": 180, "heartbeat_group_id": "42",
		"sort_index": 3, "policy_id": 7, "paused": true}`, 201, &full)
	fa := full.Data.Attributes
	if !fa.Call || !fa.SMS || fa.Email || fa.Push || !fa.CriticalAlert || fa.TeamWait == nil || *fa.TeamWait != 180 ||
		fa.HeartbeatGroupID == nil || *fa.HeartbeatGroupID != 42 || fa.SortIndex == nil || *fa.SortIndex != 3 ||
		fa.PolicyID == nil || *fa.PolicyID != "7" || !fa.Paused || fa.PausedAt == nil || fa.Status != "paused" {
		t.Fatalf("created with every field: %+v", fa)
	}
	if c := s.hcCheck(hcUUID(t, fa.URL)); c["status"] != "paused" {
		t.Fatalf("created paused, Healthchecks.io sees %v", c["status"])
	}
	// Update: changed fields only; null clears a number.
	var upd struct{ Data buResource }
	s.bu("PATCH", "/api/v2/heartbeats/"+full.Data.ID, apiKey, `{"name": "renamed", "period": 120, "team_wait": null, "email": true}`, 200, &upd)
	ua := upd.Data.Attributes
	if ua.Name != "renamed" || ua.Period != 120 || ua.Grace != 60 || ua.TeamWait != nil || !ua.Email || ua.Push ||
		ua.HeartbeatGroupID == nil || !ua.Paused || upd.Data.ID != full.Data.ID {
		t.Fatalf("updated: %+v", ua)
	}
	// paused false resumes: pending until its first ping.
	s.bu("PATCH", "/api/v2/heartbeats/"+full.Data.ID, apiKey, `{"paused": false}`, 200, &upd)
	if upd.Data.Attributes.Status != "pending" || upd.Data.Attributes.Paused || upd.Data.Attributes.PausedAt != nil {
		t.Fatalf("resumed: %+v", upd.Data.Attributes)
	}
	s.bu("PATCH", "/api/v2/heartbeats/"+full.Data.ID, apiKey, `{"paused": true}`, 200, &upd)
	if upd.Data.Attributes.Status != "paused" || upd.Data.Attributes.PausedAt == nil {
		t.Fatalf("paused: %+v", upd.Data.Attributes)
	}
	// The ping URL: GET, HEAD and POST; /fail and exit codes as Better Stack takes them.
	for _, m := range []string{"GET", "HEAD", "POST"} {
		if code, _ := s.buPing(m, a.URL, ""); code != 200 {
			t.Fatalf("%s ping: %d", m, code)
		}
	}
	if got := s.buGet(h.ID); got.Attributes.Status != "up" {
		t.Fatalf("after pings: %+v", got.Attributes)
	}
	if code, body := s.buPing("POST", a.URL+"/fail", "disk full"); code != 200 || body != "OK" {
		t.Fatalf("fail ping: %d %q", code, body)
	}
	if got := s.buGet(h.ID); got.Attributes.Status != "down" {
		t.Fatalf("after /fail: %+v", got.Attributes)
	}
	s.buPing("GET", a.URL+"/0", "")
	if got := s.buGet(h.ID); got.Attributes.Status != "up" {
		t.Fatalf("after /0: %+v", got.Attributes)
	}
	s.buPing("GET", a.URL+"/7", "")
	if got := s.buGet(h.ID); got.Attributes.Status != "down" {
		t.Fatalf("after /7: %+v", got.Attributes)
	}
	var pings struct{ Pings []map[string]any }
	s.api("GET", "/api/v3/checks/"+uuid+"/pings/", apiKey, "", 200, &pings)
	if len(pings.Pings) != 6 || pings.Pings[0]["exitstatus"] != 7.0 || pings.Pings[0]["type"] != "fail" ||
		pings.Pings[2]["method"] != "POST" || pings.Pings[2]["body_url"] == nil || pings.Pings[1]["exitstatus"] != 0.0 {
		t.Fatalf("ping log: %+v", pings.Pings)
	}
	for _, tc := range []struct {
		method, url string
		want        int
	}{
		{"GET", a.URL + "/256", 400}, {"GET", a.URL + "/start", 404}, {"PUT", a.URL, 405}, {"DELETE", a.URL, 405},
		{"GET", s.url + "/api/v1/heartbeat/0123456789abcdef0123456789abcdef", 404},
		{"GET", s.url + "/api/v1/heartbeat/not-a-token", 404},
	} {
		if code, _ := s.buPing(tc.method, tc.url, ""); code != tc.want {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.url, code, tc.want)
		}
	}
	// A heartbeat that stops pinging goes down on time: pending → up → down.
	var short struct{ Data buResource }
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "short", "period": 1, "grace": 1}`, 201, &short)
	s.buPing("GET", short.Data.Attributes.URL, "")
	if got := s.buGet(short.Data.ID); got.Attributes.Status != "up" {
		t.Fatalf("short after a ping: %+v", got.Attributes)
	}
	s.waitStatus(hcUUID(t, short.Data.Attributes.URL), "down", 10*time.Second)
	if got := s.buGet(short.Data.ID); got.Attributes.Status != "down" {
		t.Fatalf("short after its period and grace: %+v", got.Attributes)
	}
	// Delete: 204 with no body, then gone everywhere, ping URL included.
	if b := s.bu("DELETE", "/api/v2/heartbeats/"+h.ID, apiKey, "", 204, nil); len(b) != 0 {
		t.Fatalf("delete body: %q", b)
	}
	s.bu("GET", "/api/v2/heartbeats/"+h.ID, apiKey, "", 404, nil)
	s.api("GET", "/api/v3/checks/"+uuid, apiKey, "", 404, nil)
	if code, _ := s.buPing("GET", a.URL, ""); code != 404 {
		t.Fatalf("ping of a deleted heartbeat: %d", code)
	}
}

func TestBetterUptimePagination(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var ids []string
	for i := range 5 {
		var r struct{ Data buResource }
		s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "hb`+strconv.Itoa(i)+`", "period": 60, "grace": 60}`, 201, &r)
		ids = append(ids, r.Data.ID)
	}
	base := s.url + "/api/v2/heartbeats"
	var l buList
	s.bu("GET", "/api/v2/heartbeats", apiKey, "", 200, &l)
	if len(l.Data) != 5 || l.Pagination.First != base+"?per_page=50&page=1" || l.Pagination.Last != l.Pagination.First ||
		l.Pagination.Prev != nil || l.Pagination.Next != nil {
		t.Fatalf("one page: %+v", l.Pagination)
	}
	// Oldest first, pages of two: 2, 2, 1, then nothing.
	var seen []string
	next := base + "?per_page=2&page=1"
	for page := 1; page <= 3; page++ {
		var l buList
		s.bu("GET", strings.TrimPrefix(next, s.url), apiKey, "", 200, &l)
		if l.Pagination.First != base+"?per_page=2&page=1" || l.Pagination.Last != base+"?per_page=2&page=3" {
			t.Fatalf("page %d links: %+v", page, l.Pagination)
		}
		if (page == 1) != (l.Pagination.Prev == nil) || (page == 3) != (l.Pagination.Next == nil) {
			t.Fatalf("page %d prev/next: %+v", page, l.Pagination)
		}
		for _, r := range l.Data {
			seen = append(seen, r.ID)
		}
		if l.Pagination.Next != nil {
			next = *l.Pagination.Next
		}
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages gave %v, want %v", seen, ids)
	}
	s.bu("GET", "/api/v2/heartbeats?per_page=2&page=9", apiKey, "", 200, &l)
	if len(l.Data) != 0 || l.Data == nil || l.Pagination.Next != nil || l.Pagination.Prev == nil {
		t.Fatalf("past the last page: %+v", l)
	}
	// per_page is at most 250.
	s.bu("GET", "/api/v2/heartbeats?per_page=1000", apiKey, "", 200, &l)
	if len(l.Data) != 5 || !strings.Contains(l.Pagination.First, "per_page=250&") {
		t.Fatalf("per_page 1000: %+v", l.Pagination)
	}
	for _, q := range []string{"per_page=0", "page=0", "page=x", "per_page=-3"} {
		var e struct{ Errors map[string][]string }
		s.bu("GET", "/api/v2/heartbeats?"+q, apiKey, "", 422, &e)
		if len(e.Errors) != 1 {
			t.Fatalf("%s: %+v", q, e)
		}
	}
}

func TestBetterUptimeErrors(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var created struct{ Data buResource }
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "hb", "period": 60, "grace": 60}`, 201, &created)
	id := created.Data.ID
	type message struct{ Errors string }
	// 401 without a valid key.
	for _, auth := range []string{"", "GenieKey " + apiKey, "Bearer wrong"} {
		code, _, b := dialectCall(t, "GET", s.url+"/api/v2/heartbeats", auth, "")
		var e message
		if code != 401 || json.Unmarshal(b, &e) != nil || e.Errors == "" {
			t.Fatalf("auth %q: %d %s", auth, code, b)
		}
	}
	// A read-only key may list and get, nothing else.
	s.bu("GET", "/api/v2/heartbeats", roKey, "", 200, nil)
	s.bu("GET", "/api/v2/heartbeats/"+id, roKey, "", 200, nil)
	s.bu("POST", "/api/v2/heartbeats", roKey, `{"name": "ro", "period": 60, "grace": 60}`, 403, nil)
	s.bu("PATCH", "/api/v2/heartbeats/"+id, roKey, `{"name": "ro"}`, 403, nil)
	s.bu("DELETE", "/api/v2/heartbeats/"+id, roKey, "", 403, nil)
	// 404 in Better Uptime's words, for unknown and malformed ids and for another
	// project's heartbeat.
	var p keys
	s.admin("POST", "/admin/v1/projects", `{"name": "other"}`, 201, &p)
	for _, path := range []string{"/api/v2/heartbeats/12345", "/api/v2/heartbeats/abc", "/api/v2/heartbeats/" + id + "/x"} {
		var e message
		s.bu("GET", path, apiKey, "", 404, &e)
		if e.Errors != "Resource with provided ID was not found" {
			t.Fatalf("%s: %+v", path, e)
		}
	}
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		var e message
		s.bu(m, "/api/v2/heartbeats/"+id, p.APIKey, `{"name": "x"}`, 404, &e)
		if e.Errors != "Resource with provided ID was not found" {
			t.Fatalf("%s another project's heartbeat: %+v", m, e)
		}
	}
	// 422 with the errors by field.
	for _, tc := range []struct{ body, field string }{
		{`{"period": 60, "grace": 60}`, "name"},
		{`{"name": " ", "period": 60, "grace": 60}`, "name"},
		{`{"name": "x", "grace": 60}`, "period"},
		{`{"name": "x", "period": 0, "grace": 60}`, "period"},
		{`{"name": "x", "period": 31536001, "grace": 60}`, "period"},
		{`{"name": "x", "period": "soon", "grace": 60}`, "period"},
		{`{"name": "x", "period": 60}`, "grace"},
		{`{"name": "x", "period": 60, "grace": 0}`, "grace"},
		{`{"name": "x", "period": 60, "grace": 60, "call": "yes"}`, "call"},
		{`{"name": "x", "period": 60, "grace": 60, "team_wait": -1}`, "team_wait"},
		{`{"name": "x", "period": 60, "grace": 60, "heartbeat_group_id": "g"}`, "heartbeat_group_id"},
		{`{"name": "x", "period": 60, "grace": 60, "paused": 1}`, "paused"},
		{`{"name": "x", "period": 60, "grace": 60, "policy_id": true}`, "policy_id"},
	} {
		var e struct{ Errors map[string][]string }
		s.bu("POST", "/api/v2/heartbeats", apiKey, tc.body, 422, &e)
		if len(e.Errors[tc.field]) == 0 {
			t.Errorf("%s: errors %v do not name %s", tc.body, e.Errors, tc.field)
		}
	}
	// A refused update writes nothing.
	s.bu("PATCH", "/api/v2/heartbeats/"+id, apiKey, `{"name": "changed", "grace": -1}`, 422, nil)
	if got := s.buGet(id); got.Attributes.Name != "hb" || got.Attributes.Grace != 60 {
		t.Fatalf("a refused update changed the heartbeat: %+v", got.Attributes)
	}
	var e message
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": `, 400, &e)
	if e.Errors == "" {
		t.Fatal("400 without errors")
	}
	s.bu("PUT", "/api/v2/heartbeats/"+id, apiKey, `{}`, 405, nil)
	var l buList
	s.bu("GET", "/api/v2/heartbeats", apiKey, "", 200, &l)
	if len(l.Data) != 1 {
		t.Fatalf("refused requests made heartbeats: %+v", l.Data)
	}
}

// One model, three views: created by Opsgenie, pinged by its Better Uptime URL,
// seen down through Healthchecks.io, deleted through Better Uptime, and gone from
// all three.
func TestDialectsOneModel(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "nightly-db", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, 201)
	var l buList
	s.bu("GET", "/api/v2/heartbeats", apiKey, "", 200, &l)
	if len(l.Data) != 1 || l.Data[0].Attributes.Name != "nightly-db" || l.Data[0].Attributes.Period != 60 ||
		l.Data[0].Attributes.Grace != 3600 || l.Data[0].Attributes.Status != "pending" {
		t.Fatalf("Better Uptime's view of an Opsgenie heartbeat: %+v", l.Data)
	}
	hb := l.Data[0]
	uuid := hcUUID(t, hb.Attributes.URL)
	if c := s.hcCheck(uuid); c["name"] != "nightly-db" || c["timeout"] != 60.0 {
		t.Fatalf("Healthchecks.io's view: %v", c)
	}
	// Names and numbers survive a restart (they are indexes on disk).
	s.kill9()
	s.restart()
	if got := s.buGet(hb.ID); got.Attributes.URL != hb.Attributes.URL {
		t.Fatalf("after restart: %+v", got)
	}
	s.og("GET", "/v2/heartbeats/nightly-db", apiKey, "", 200)
	// Shorten it through Better Uptime, ping it by its Better Uptime URL, and
	// watch it go down through Healthchecks.io.
	s.bu("PATCH", "/api/v2/heartbeats/"+hb.ID, apiKey, `{"period": 1, "grace": 1}`, 200, nil)
	if code, _ := s.buPing("GET", hb.Attributes.URL, ""); code != 200 {
		t.Fatalf("ping: %d", code)
	}
	s.waitStatus(uuid, "up", 5*time.Second)
	if h := s.og("GET", "/v2/heartbeats/nightly-db", apiKey, "", 200).heartbeat(t); h.Expired || h.Interval != 1 || h.IntervalUnit != "minutes" {
		t.Fatalf("Opsgenie's view while up (1 s shows as 1 minute): %+v", h)
	}
	s.waitStatus(uuid, "down", 10*time.Second)
	if h := s.og("GET", "/v2/heartbeats/nightly-db", apiKey, "", 200).heartbeat(t); !h.Expired {
		t.Fatalf("Opsgenie's view when down: %+v", h)
	}
	if got := s.buGet(hb.ID); got.Attributes.Status != "down" {
		t.Fatalf("Better Uptime's view when down: %+v", got.Attributes)
	}
	// Paused through Healthchecks.io shows as disabled and paused.
	s.api("POST", "/api/v3/checks/"+uuid+"/pause", apiKey, "", 200, nil)
	if h := s.og("GET", "/v2/heartbeats/nightly-db", apiKey, "", 200).heartbeat(t); h.Enabled {
		t.Fatalf("paused, Opsgenie: %+v", h)
	}
	if got := s.buGet(hb.ID); got.Attributes.Status != "paused" || got.Attributes.PausedAt == nil {
		t.Fatalf("paused, Better Uptime: %+v", got.Attributes)
	}
	// Deleted through Better Uptime: gone from all three.
	s.bu("DELETE", "/api/v2/heartbeats/"+hb.ID, apiKey, "", 204, nil)
	s.api("GET", "/api/v3/checks/"+uuid, apiKey, "", 404, nil)
	s.og("GET", "/v2/heartbeats/nightly-db", apiKey, "", 404)
	s.bu("GET", "/api/v2/heartbeats/"+hb.ID, apiKey, "", 404, nil)
	if hs := s.og("GET", "/v2/heartbeats", apiKey, "", 200).heartbeats(t); len(hs) != 0 {
		t.Fatalf("Opsgenie still lists: %+v", hs)
	}
	// Names repeat only through the other dialects; Opsgenie's name then means the
	// oldest check that has it, and Opsgenie cannot add another.
	first := s.create(apiKey, `{"name": "dup", "desc": "first", "timeout": 90}`)
	var second struct{ Data buResource }
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "dup", "period": 60, "grace": 60}`, 201, &second)
	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "dup", "interval": 1, "intervalUnit": "minutes", "enabled": true}`, 409)
	h := s.og("GET", "/v2/heartbeats/dup", apiKey, "", 200).heartbeat(t)
	if h.Description != "first" || h.Interval != 2 || h.IntervalUnit != "minutes" {
		t.Fatalf("dup resolves to %+v, want the oldest (90 s rounded up to 2 minutes)", h)
	}
	s.og("GET", "/v2/heartbeats/dup/ping", apiKey, "", 202)
	if c := s.hcCheck(first.UUID); c["n_pings"] != 1.0 {
		t.Fatalf("Opsgenie ping of a repeated name reached %v pings on the oldest", c["n_pings"])
	}
	if c := s.hcCheck(hcUUID(t, second.Data.Attributes.URL)); c["n_pings"] != 0.0 {
		t.Fatalf("Opsgenie ping of a repeated name reached the newer check: %v", c)
	}
	// A rename through Healthchecks.io moves the Opsgenie name with it.
	s.api("POST", "/api/v3/checks/"+first.UUID, apiKey, `{"name": "renamed"}`, 200, nil)
	if h := s.og("GET", "/v2/heartbeats/renamed", apiKey, "", 200).heartbeat(t); h.Description != "first" {
		t.Fatalf("renamed: %+v", h)
	}
	if h := s.og("GET", "/v2/heartbeats/dup", apiKey, "", 200).heartbeat(t); h.Interval != 1 {
		t.Fatalf("dup now resolves to %+v, want the Better Uptime one", h)
	}
}
