package betteruptime

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilo/vigilo/api/wire"
)

// The seed's create example, as its cURL sends it.
const seedCreate = `{
"monitor_type": "status",
"url": "https://facebook.com",
"pronounceable_name": "Facebook homepage",
"email": true,
"sms": true,
"call": true,
"check_frequency": 30,
"request_headers": [
{
"name": "X-Custom-Header",
"value": "custom header value"
}
]
}`

// The attributes of the seed's "Getting a single monitor" answer, the fullest
// of its examples; the create and update answers show a subset of these keys.
const seedMonitor = `{
"url": "https://betteruptime.com",
"pronounceable_name": "BetterUptime homepage",
"monitor_type": "keyword",
"monitor_group_id": "12345",
"last_checked_at": "2020-09-01T14:17:46.000Z",
"status": "up",
"required_keyword": "We call you",
"verify_ssl": true,
"check_frequency": 30,
"call": true,
"sms": true,
"email": true,
"push": true,
"team_wait": null,
"http_method": "get",
"request_timeout": 15,
"recovery_period": 0,
"request_headers": [
{
"id": "123",
"name": "Content-Type",
"value": "application/xml"
}
],
"request_body": "",
"paused_at": null,
"created_at": "2020-02-18T13:38:16.586Z",
"updated_at": "2020-09-08T13:10:20.202Z",
"ssl_expiration": 7,
"domain_expiration": 14,
"regions": ["us", "eu", "as", "au"],
"port": null,
"confirmation_period": 120,
"expected_status_codes": []
}`

// rendered is RenderMonitor's answer as a client decodes it.
func rendered(t *testing.T, a MonitorAttrs, st MonitorState) map[string]any {
	t.Helper()
	b, err := json.Marshal(map[string]any{"data": RenderMonitor("1", a, st)})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct {
			ID, Type   string
			Attributes map[string]any
		}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Data.ID != "1" || out.Data.Type != "monitor" {
		t.Fatalf("resource %s", b)
	}
	return out.Data.Attributes
}

func jsonType(v any) string {
	if v == nil {
		return "null"
	}
	return reflect.TypeOf(v).String()
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestMonitorSeedExamples(t *testing.T) {
	var seed map[string]any
	if err := json.Unmarshal([]byte(seedMonitor), &seed); err != nil {
		t.Fatal(err)
	}
	st := MonitorState{
		Status:        "up",
		LastCheckedAt: mustTime("2020-09-01T14:17:46Z"),
		CreatedAt:     mustTime("2020-02-18T13:38:16.586Z"),
		UpdatedAt:     mustTime("2020-09-08T13:10:20.202Z"),
	}

	// The answer's attributes sent back as a create (read-only ones included,
	// the header without the id the model assigns) show exactly the answer.
	var asCreate map[string]any
	_ = json.Unmarshal([]byte(seedMonitor), &asCreate)
	asCreate["request_headers"] = []any{map[string]any{"name": "Content-Type", "value": "application/xml"}}
	body, _ := json.Marshal(asCreate)
	a, err := ParseMonitorCreate(body, MonitorLimits{RejectUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	a.RequestHeaders[0].ID = "123"
	got := rendered(t, a, st)
	for k, want := range seed {
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("%s: got %#v, want %#v", k, got[k], want)
		}
	}

	// The create example: every key of the answer, of the same JSON type, but
	// for those the request leaves unset, which Better Uptime shows as null.
	unset := []string{"monitor_group_id", "required_keyword", "ssl_expiration", "domain_expiration"}
	a, err = ParseMonitorCreate([]byte(seedCreate), MonitorLimits{})
	if err != nil {
		t.Fatal(err)
	}
	got = rendered(t, a, st)
	for k, want := range seed {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s missing", k)
		case slices.Contains(unset, k):
			if g != nil {
				t.Errorf("%s: got %#v, want null", k, g)
			}
		case jsonType(g) != jsonType(want):
			t.Errorf("%s: got %s %#v, want %s", k, jsonType(g), g, jsonType(want))
		}
	}
	for k, want := range map[string]any{
		"url": "https://facebook.com", "pronounceable_name": "Facebook homepage",
		"monitor_type": "status", "email": true, "sms": true, "call": true,
		"check_frequency": 30.0,
		"request_headers": []any{map[string]any{"id": "1", "name": "X-Custom-Header", "value": "custom header value"}},
	} {
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("create example %s: got %#v, want %#v", k, got[k], want)
		}
	}
}

func TestMonitorDefaults(t *testing.T) {
	a, err := ParseMonitorCreate([]byte(`{"url": "https://example.com/health"}`), MonitorLimits{})
	if err != nil {
		t.Fatal(err)
	}
	got := rendered(t, a, MonitorState{})
	for k, want := range map[string]any{
		"monitor_type": "status", "pronounceable_name": "https://example.com/health",
		"check_frequency": 180.0, "request_timeout": 30.0, "recovery_period": 180.0,
		"confirmation_period": 0.0, "regions": []any{"us", "eu", "as", "au"},
		"http_method": "get", "verify_ssl": true, "follow_redirects": true,
		"remember_cookies": true, "email": true, "push": true, "call": false,
		"sms": false, "paused": false, "status": "pending", "team_wait": nil,
		"port": nil, "policy_id": nil, "expected_status_codes": []any{},
		"request_headers": []any{}, "request_body": "", "maintenance_from": nil,
		"maintenance_timezone": "UTC", "ip_version": nil, "last_checked_at": nil,
		"paused_at": nil,
	} {
		if !reflect.DeepEqual(got[k], want) {
			t.Errorf("%s: got %#v, want %#v", k, got[k], want)
		}
	}
}

// problems is err's 422 answer as the dialect writes it: {"errors": {attr: [...]}}.
func problems(t *testing.T, err error) (int, map[string][]string) {
	t.Helper()
	var f *wire.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %T %v, want *wire.Failure", err, err)
	}
	_, p := f.ByField()
	return f.Status(), p
}

func TestMonitorValidation(t *testing.T) {
	http := `"url": "https://example.com", `
	for _, tc := range []struct {
		name, body string
		// patch, when set, is applied to the monitor body creates.
		patch  string
		status int
		field  string // "" for a failure with no field (400 and the like)
		msg    string
	}{
		{"not JSON", `{"url": `, "", 400, "", ""},
		{"not an object", `["url"]`, "", 422, "", ""},
		{"url missing", `{}`, "", 422, "url", "can't be blank"},
		{"url null", `{"url": null}`, "", 422, "url", "can't be blank"},
		{"url number", `{"url": 5}`, "", 422, "url", "must be a string"},
		{"url not http", `{"url": "ftp://example.com"}`, "", 422, "base", "URL is invalid."},
		{"url without scheme", `{"url": "example.com"}`, "", 422, "base", "URL is invalid."},
		{"host with scheme", `{"url": "https://example.com", "monitor_type": "ping"}`, "", 422, "base", "URL is invalid."},
		{"host with path", `{"url": "example.com/x", "monitor_type": "ping"}`, "", 422, "base", "URL is invalid."},
		{"monitor_type", `{` + http + `"monitor_type": "http"}`, "", 422, "monitor_type", "is not included in the list"},
		{"monitor_type null", `{` + http + `"monitor_type": null}`, "", 422, "monitor_type", "can't be blank"},
		{"ssl_expiration", `{` + http + `"ssl_expiration": 5}`, "", 422, "ssl_expiration", "is not included in the list (1, 2, 3, 7, 14, 30, 60)"},
		{"domain_expiration", `{` + http + `"domain_expiration": 90}`, "", 422, "domain_expiration", "is not included in the list"},
		{"domain_expiration type", `{` + http + `"domain_expiration": true}`, "", 422, "domain_expiration", "must be an integer"},
		{"region", `{` + http + `"regions": ["us", "mars"]}`, "", 422, "regions", "is not included in the list (us, eu, as, au)"},
		{"no region", `{` + http + `"regions": []}`, "", 422, "regions", "can't be blank"},
		{"regions type", `{` + http + `"regions": "us"}`, "", 422, "regions", "must be an array of strings"},
		{"http_method", `{` + http + `"http_method": "DELETE"}`, "", 422, "http_method", "is not included in the list (get, head, post, put, patch)"},
		{"verify_ssl type", `{` + http + `"verify_ssl": "true"}`, "", 422, "verify_ssl", "must be a boolean"},
		{"tcp port", `{"url": "db.example.com", "monitor_type": "tcp"}`, "", 422, "port", "can't be blank"},
		{"udp port", `{"url": "10.0.0.1", "monitor_type": "udp", "required_keyword": "pong"}`, "", 422, "port", "can't be blank"},
		{"tcp port range", `{"url": "db.example.com", "monitor_type": "tcp", "port": "70000"}`, "", 422, "port", "must be a port number"},
		{"smtp port", `{"url": "mx.example.com", "monitor_type": "smtp", "port": "2525"}`, "", 422, "port", "must be 25, 465 or 587"},
		{"smtp port missing", `{"url": "mx.example.com", "monitor_type": "smtp"}`, "", 422, "port", "can't be blank"},
		{"pop port", `{"url": "mail.example.com", "monitor_type": "pop", "port": "110,143"}`, "", 422, "port", "must be 110 or 995"},
		{"imap port", `{"url": "mail.example.com", "monitor_type": "imap", "port": "993,993"}`, "", 422, "port", "must be 143 or 993"},
		{"port type", `{"url": "db.example.com", "monitor_type": "tcp", "port": true}`, "", 422, "port", "must be an integer"},
		{"keyword", `{` + http + `"monitor_type": "keyword"}`, "", 422, "required_keyword", "can't be blank"},
		{"keyword_absence", `{` + http + `"monitor_type": "keyword_absence", "required_keyword": " "}`, "", 422, "required_keyword", "can't be blank"},
		{"udp keyword", `{"url": "10.0.0.1", "monitor_type": "udp", "port": "53"}`, "", 422, "required_keyword", "can't be blank"},
		{"expected_status_codes", `{` + http + `"monitor_type": "expected_status_code"}`, "", 422, "expected_status_codes", "can't be blank"},
		{"expected_status_codes empty", `{` + http + `"monitor_type": "expected_status_code", "expected_status_codes": []}`, "", 422, "expected_status_codes", "can't be blank"},
		{"expected_status_codes range", `{` + http + `"expected_status_codes": [200, 99]}`, "", 422, "expected_status_codes", "must be HTTP status codes"},
		{"expected_status_codes type", `{` + http + `"expected_status_codes": 200}`, "", 422, "expected_status_codes", "must be an array of integers"},
		{"maintenance_from alone", `{` + http + `"maintenance_from": "01:00:00"}`, "", 422, "maintenance_to", "can't be blank"},
		{"maintenance_to alone", `{` + http + `"maintenance_to": "03:00:00"}`, "", 422, "maintenance_from", "can't be blank"},
		{"maintenance format", `{` + http + `"maintenance_from": "1:00", "maintenance_to": "03:00:00"}`, "", 422, "maintenance_from", "HH:MM:SS"},
		{"maintenance hour", `{` + http + `"maintenance_from": "01:00:00", "maintenance_to": "24:00:00"}`, "", 422, "maintenance_to", "HH:MM:SS"},
		{"maintenance_days", `{` + http + `"maintenance_days": ["monday"]}`, "", 422, "maintenance_days", "is not included in the list"},
		{"ip_version", `{` + http + `"ip_version": "ipv5"}`, "", 422, "ip_version", "is not included in the list (ipv4, ipv6)"},
		{"request_timeout", `{` + http + `"request_timeout": 7}`, "", 422, "request_timeout", "is not included in the list (2, 3, 5, 10, 15, 30, 45, 60)"},
		{"request_timeout high", `{` + http + `"request_timeout": 120}`, "", 422, "request_timeout", "is not included in the list"},
		{"request_timeout null", `{` + http + `"request_timeout": null}`, "", 422, "request_timeout", "can't be blank"},
		{"check_frequency floor", `{` + http + `"check_frequency": 29}`, "", 422, "check_frequency", "must be greater than or equal to 30"},
		{"check_frequency ceiling", `{` + http + `"check_frequency": 86401}`, "", 422, "check_frequency", "must be less than or equal to 86400"},
		{"check_frequency fraction", `{` + http + `"check_frequency": 30.5}`, "", 422, "check_frequency", "must be an integer"},
		{"recovery_period", `{` + http + `"recovery_period": 10}`, "", 422, "recovery_period", "must be 0 or greater than or equal to 30"},
		{"confirmation_period", `{` + http + `"confirmation_period": -1}`, "", 422, "confirmation_period", "must be 0 or greater than or equal to 30"},
		{"team_wait", `{` + http + `"team_wait": -1}`, "", 422, "team_wait", "must be greater than or equal to 0"},
		{"monitor_group_id", `{` + http + `"monitor_group_id": "abc"}`, "", 422, "monitor_group_id", "must be an integer"},
		{"pronounceable_name", `{` + http + `"pronounceable_name": ` + fmt.Sprintf("%q", strings.Repeat("a", 201)) + `}`, "", 422, "pronounceable_name", "at most 200"},
		{"request_headers type", `{` + http + `"request_headers": {"name": "a"}}`, "", 422, "request_headers", "must be an array of objects"},
		{"request_header item", `{` + http + `"request_headers": ["X-A: b"]}`, "", 422, "request_headers", "must be an array of objects"},
		{"request_header name", `{` + http + `"request_headers": [{"value": "b"}]}`, "", 422, "request_headers.name", "can't be blank"},
		{"request_header value", `{` + http + `"request_headers": [{"name": "X-A"}]}`, "", 422, "request_headers.value", "can't be blank"},
		{"request_header bad name", `{` + http + `"request_headers": [{"name": "X A", "value": "b"}]}`, "", 422, "request_headers.name", "is not a valid header name"},
		{"request_header injection", `{` + http + `"request_headers": [{"name": "X-A", "value": "b\r\nX-B: c"}]}`, "", 422, "request_headers.value", "must not contain line breaks"},
		{"request_header value type", `{` + http + `"request_headers": [{"name": "X-A", "value": 1}]}`, "", 422, "request_headers.value", "must be a string"},
		{"request_header id on create", `{` + http + `"request_headers": [{"id": "1", "name": "X-A", "value": "b"}]}`, "", 422, "request_headers", "has no header with id 1"},
		{"request_header _destroy", `{` + http + `"request_headers": [{"id": "1", "_destroy": "maybe"}]}`, "", 422, "request_headers._destroy", "must be a boolean"},

		// PATCH: checked as the monitor it leaves.
		{"patch type needs port", `{` + http + `"check_frequency": 60}`, `{"monitor_type": "tcp", "url": "db.example.com"}`, 422, "port", "can't be blank"},
		{"patch type needs keyword", `{` + http + `"check_frequency": 60}`, `{"monitor_type": "keyword"}`, 422, "required_keyword", "can't be blank"},
		{"patch type keeps url", `{` + http + `"check_frequency": 60}`, `{"monitor_type": "ping"}`, 422, "base", "URL is invalid."},
		{"patch port to smtp", `{"url": "mx.example.com", "monitor_type": "tcp", "port": 2525}`, `{"monitor_type": "smtp"}`, 422, "port", "must be 25, 465 or 587"},
		{"patch clears port", `{"url": "mx.example.com", "monitor_type": "tcp", "port": 2525}`, `{"port": null}`, 422, "port", "can't be blank"},
		{"patch url null", `{` + http + `"check_frequency": 60}`, `{"url": null}`, 422, "url", "can't be blank"},
		{"patch maintenance half", `{` + http + `"maintenance_from": "01:00:00", "maintenance_to": "03:00:00"}`, `{"maintenance_to": null}`, 422, "maintenance_to", "can't be blank"},
		{"patch unknown header", `{` + http + `"request_headers": [{"name": "X-A", "value": "b"}]}`, `{"request_headers": [{"id": "99", "_destroy": true}]}`, 422, "request_headers", "has no header with id 99"},
		{"patch not JSON", `{` + http + `"check_frequency": 60}`, `check_frequency=60`, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.patch == "" {
				_, err = ParseMonitorCreate([]byte(tc.body), MonitorLimits{})
			} else {
				cur, cerr := ParseMonitorCreate([]byte(tc.body), MonitorLimits{})
				if cerr != nil {
					t.Fatalf("create: %v", cerr)
				}
				var got MonitorAttrs
				got, err = ApplyMonitorPatch(cur, []byte(tc.patch), MonitorLimits{})
				if !reflect.DeepEqual(got, cur) {
					t.Errorf("a refused patch changed the monitor: %+v", got)
				}
			}
			if err == nil {
				t.Fatal("accepted")
			}
			status, p := problems(t, err)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, err)
			}
			if tc.field == "" {
				return
			}
			if len(p) != 1 || len(p[tc.field]) != 1 || !strings.Contains(p[tc.field][0], tc.msg) {
				t.Fatalf("errors %v, want only %s: [%q]", p, tc.field, tc.msg)
			}
		})
	}
}

func TestMonitorAccepted(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		check      func(MonitorAttrs) bool
	}{
		{"tcp", `{"url": "db.example.com", "monitor_type": "tcp", "port": "5432"}`,
			func(a MonitorAttrs) bool { return *a.Port == "5432" }},
		{"port as a number", `{"url": "10.0.0.1", "monitor_type": "udp", "port": 53, "required_keyword": "x"}`,
			func(a MonitorAttrs) bool { return *a.Port == "53" }},
		{"smtp ports", `{"url": "mx.example.com", "monitor_type": "smtp", "port": "25, 587"}`,
			func(a MonitorAttrs) bool { return *a.Port == "25,587" }},
		{"pop", `{"url": "mail.example.com", "monitor_type": "pop", "port": "995"}`, nil},
		{"imap", `{"url": "mail.example.com", "monitor_type": "imap", "port": "143,993"}`, nil},
		{"ping an IPv6 address", `{"url": "2001:db8::1", "monitor_type": "ping"}`, nil},
		{"http upper case", `{"url": "HTTP://example.com:8080/x?y=1", "http_method": "POST"}`,
			func(a MonitorAttrs) bool { return a.HTTPMethod == "post" }},
		{"keyword", `{"url": "https://example.com", "monitor_type": "keyword", "required_keyword": "ok"}`,
			func(a MonitorAttrs) bool { return *a.RequiredKeyword == "ok" }},
		{"expected codes as Rails casts them", `{"url": "https://example.com", "monitor_type": "expected_status_code", "expected_status_codes": [200, "204", 200]}`,
			func(a MonitorAttrs) bool { return slices.Equal(a.ExpectedStatusCodes, []int{200, 204}) }},
		{"regions in Better Uptime's order", `{"url": "https://example.com", "regions": ["au", "us", "au"]}`,
			func(a MonitorAttrs) bool { return slices.Equal(a.Regions, []string{"us", "au"}) }},
		{"maintenance", `{"url": "https://example.com", "maintenance_from": "23:00:00", "maintenance_to": "01:30:00", "maintenance_days": ["sun", "mon"], "maintenance_timezone": "Prague"}`,
			func(a MonitorAttrs) bool {
				return *a.MaintenanceFrom == "23:00:00" && *a.MaintenanceTo == "01:30:00" &&
					slices.Equal(a.MaintenanceDays, []string{"mon", "sun"}) && a.MaintenanceTimezone == "Prague"
			}},
		{"numbers as strings", `{"url": "https://example.com", "check_frequency": "60", "monitor_group_id": "12345", "policy_id": 7}`,
			func(a MonitorAttrs) bool {
				return a.CheckFrequency == time.Minute && *a.MonitorGroupID == 12345 && *a.PolicyID == "7"
			}},
		{"nulls unset", `{"url": "https://example.com", "ssl_expiration": null, "policy_id": null, "team_wait": null, "ip_version": null, "expiration_policy_id": null}`,
			func(a MonitorAttrs) bool { return a.SSLExpiration == nil && a.PolicyID == nil && a.TeamWait == nil }},
		{"zero periods", `{"url": "https://example.com", "recovery_period": 0, "confirmation_period": 0, "team_wait": 0}`,
			func(a MonitorAttrs) bool { return a.RecoveryPeriod == 0 && *a.TeamWait == 0 }},
		{"paused", `{"url": "https://example.com", "paused": true}`,
			func(a MonitorAttrs) bool { return a.Paused }},
		{"auth and body", `{"url": "https://example.com", "auth_username": "u", "auth_password": "p", "request_body": "{}", "http_method": "put"}`,
			func(a MonitorAttrs) bool {
				return a.AuthUsername == "u" && a.AuthPassword == "p" && a.RequestBody == "{}"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseMonitorCreate([]byte(tc.body), MonitorLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil && !tc.check(a) {
				t.Fatalf("attrs %+v", a)
			}
		})
	}
}

func TestMonitorMinPeriod(t *testing.T) {
	lim := MonitorLimits{MinPeriod: 2 * time.Second}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"check_frequency": 2}`, true},
		{`{"check_frequency": 1}`, false},
		{`{"check_frequency": 0}`, false},
		{`{"confirmation_period": 2, "recovery_period": 3}`, true},
		{`{"confirmation_period": 1}`, false},
		{`{"recovery_period": 1}`, false},
		{`{"recovery_period": 0, "confirmation_period": 0}`, true},
	} {
		a, err := ParseMonitorCreate([]byte(`{"url": "https://example.com"}`), lim)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ApplyMonitorPatch(a, []byte(tc.body), lim)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.body, err)
		}
		if err != nil {
			if _, p := problems(t, err); !strings.Contains(fmt.Sprint(p), "or equal to 2") {
				t.Errorf("%s: %v", tc.body, p)
			}
		}
	}
	// Sub-second limits round up: a check is never more often than MinPeriod.
	if _, err := ParseMonitorCreate([]byte(`{"url": "https://example.com", "check_frequency": 1}`), MonitorLimits{MinPeriod: 1500 * time.Millisecond}); err == nil {
		t.Fatal("1s under a 1.5s MinPeriod")
	}
}

func TestMonitorRequestHeaders(t *testing.T) {
	a, err := ParseMonitorCreate([]byte(`{"url": "https://example.com", "request_headers": [
		{"name": "X-A", "value": "a"}, {"name": "X-B", "value": "b"}, {"name": "X-C", "value": "c"}]}`), MonitorLimits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name, patch string
		want        []RequestHeader // nil: refused, headers as they were
	}{
		{"the seed's example: add, update, destroy", `{"request_headers": [
			{"name": "X-Create-New-Header", "value": "New Header Value"},
			{"id": "1", "name": "X-Update-Existing-Header-Name"},
			{"id": "2", "_destroy": true}]}`,
			[]RequestHeader{{"1", "X-Update-Existing-Header-Name", "a"}, {"3", "X-C", "c"}, {"4", "X-Create-New-Header", "New Header Value"}}},
		{"update a value; ids as numbers", `{"request_headers": [{"id": 3, "value": "c2"}]}`,
			[]RequestHeader{{"1", "X-Update-Existing-Header-Name", "a"}, {"3", "X-C", "c2"}, {"4", "X-Create-New-Header", "New Header Value"}}},
		{"Terraform's string _destroy, and a new header", `{"request_headers": [{"id": "1", "_destroy": "true"}, {"name": "X-D", "value": "d"}]}`,
			[]RequestHeader{{"3", "X-C", "c2"}, {"4", "X-Create-New-Header", "New Header Value"}, {"5", "X-D", "d"}}},
		{"a destroyed id is unknown", `{"request_headers": [{"id": "1", "value": "again"}]}`, nil},
		{"one bad element refuses them all", `{"request_headers": [{"id": "3", "_destroy": true}, {"name": "", "value": "x"}]}`, nil},
		{"an emptied name", `{"request_headers": [{"id": "3", "name": ""}]}`, nil},
		{"_destroy false updates", `{"request_headers": [{"id": "3", "_destroy": false, "name": "X-E"}]}`,
			[]RequestHeader{{"3", "X-E", "c2"}, {"4", "X-Create-New-Header", "New Header Value"}, {"5", "X-D", "d"}}},
		{"a new header marked for destruction is dropped", `{"request_headers": [{"name": "X-F", "value": "f", "_destroy": true}]}`,
			[]RequestHeader{{"3", "X-E", "c2"}, {"4", "X-Create-New-Header", "New Header Value"}, {"5", "X-D", "d"}}},
		{"an empty list and null change nothing", `{"request_headers": [], "check_frequency": 60}`,
			[]RequestHeader{{"3", "X-E", "c2"}, {"4", "X-Create-New-Header", "New Header Value"}, {"5", "X-D", "d"}}},
		{"ids are never reused", `{"request_headers": [{"id": "5", "_destroy": "1"}, {"name": "X-G", "value": "g"}]}`,
			[]RequestHeader{{"3", "X-E", "c2"}, {"4", "X-Create-New-Header", "New Header Value"}, {"6", "X-G", "g"}}},
	} {
		before := a.clone()
		next, err := ApplyMonitorPatch(a, []byte(step.patch), MonitorLimits{})
		if step.want == nil {
			if err == nil {
				t.Fatalf("%s: accepted: %v", step.name, next.RequestHeaders)
			}
			if status, p := problems(t, err); status != 422 || len(p) == 0 {
				t.Fatalf("%s: %d %v", step.name, status, p)
			}
			if !reflect.DeepEqual(a, before) {
				t.Fatalf("%s: the monitor changed", step.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if !reflect.DeepEqual(next.RequestHeaders, step.want) {
			t.Fatalf("%s: headers %v, want %v", step.name, next.RequestHeaders, step.want)
		}
		if !reflect.DeepEqual(a, before) {
			t.Fatalf("%s: the patch changed the monitor it was given", step.name)
		}
		a = next
	}
	got := rendered(t, a, MonitorState{})
	if want := []any{
		map[string]any{"id": "3", "name": "X-E", "value": "c2"},
		map[string]any{"id": "4", "name": "X-Create-New-Header", "value": "New Header Value"},
		map[string]any{"id": "6", "name": "X-G", "value": "g"},
	}; !reflect.DeepEqual(got["request_headers"], want) {
		t.Fatalf("rendered %v", got["request_headers"])
	}
}

func TestMonitorPatch(t *testing.T) {
	cur, err := ParseMonitorCreate([]byte(`{"url": "https://example.com", "policy_id": "9", "pronounceable_name": "Home",
		"ssl_expiration": 14, "regions": ["us"], "call": true}`), MonitorLimits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, patch string
		check       func(MonitorAttrs) bool
	}{
		{"empty body changes nothing", ``, func(a MonitorAttrs) bool { return reflect.DeepEqual(a, cur) }},
		{"the seed's check_frequency example", `{"check_frequency": 60}`, func(a MonitorAttrs) bool {
			b := cur.clone()
			b.CheckFrequency = time.Minute
			return reflect.DeepEqual(a, b)
		}},
		{"null unsets", `{"policy_id": null, "ssl_expiration": null}`, func(a MonitorAttrs) bool {
			return a.PolicyID == nil && a.SSLExpiration == nil && a.Call
		}},
		{"a name is kept when the url changes", `{"url": "https://example.org"}`, func(a MonitorAttrs) bool {
			return a.URL == "https://example.org" && a.PronounceableName == "Home"
		}},
		{"a blank name falls back to the url", `{"pronounceable_name": ""}`, func(a MonitorAttrs) bool {
			return rendered(t, a, MonitorState{})["pronounceable_name"] == "https://example.com"
		}},
		{"type change with what it needs", `{"monitor_type": "tcp", "url": "db.example.com", "port": "5432"}`, func(a MonitorAttrs) bool {
			return a.MonitorType == "tcp" && !a.IsHTTP() && *a.Port == "5432"
		}},
		{"pause", `{"paused": true}`, func(a MonitorAttrs) bool { return a.Paused }},
		{"null booleans are ignored, as for heartbeats", `{"call": null}`, func(a MonitorAttrs) bool { return a.Call }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cur.clone()
			a, err := ApplyMonitorPatch(cur, []byte(tc.patch), MonitorLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(a) {
				t.Fatalf("attrs %+v", a)
			}
			if !reflect.DeepEqual(cur, before) {
				t.Fatal("the patch changed the monitor it was given")
			}
		})
	}
}

func TestMonitorUnknownAttributes(t *testing.T) {
	body := []byte(`{"url": "https://example.com", "colour": "blue", "status": "down", "created_at": "x", "team_name": "Ops", "nonsense": 1}`)
	for _, tc := range []struct {
		name string
		lim  MonitorLimits
		want map[string][]string // nil: accepted
	}{
		// As wire.Object and the heartbeats do, and Better Uptime's strong params.
		{"ignored by default", MonitorLimits{}, nil},
		{"refused when asked, read-only attributes aside", MonitorLimits{RejectUnknown: true},
			map[string][]string{"colour": {"is not a known attribute"}, "nonsense": {"is not a known attribute"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseMonitorCreate(body, tc.lim)
			if tc.want == nil {
				if err != nil || a.URL != "https://example.com" {
					t.Fatalf("%v %+v", err, a)
				}
				return
			}
			status, p := problems(t, err)
			if status != 422 || !reflect.DeepEqual(p, tc.want) {
				t.Fatalf("%d %v", status, p)
			}
			var f *wire.Failure
			errors.As(err, &f)
			if fields, _ := f.ByField(); !slices.Equal(fields, []string{"colour", "nonsense"}) {
				t.Fatalf("order %v", fields)
			}
		})
	}
}

func TestRenderMonitorState(t *testing.T) {
	a, err := ParseMonitorCreate([]byte(`{"url": "https://example.com", "monitor_group_id": 42, "port": "443", "team_wait": 60}`), MonitorLimits{})
	if err != nil {
		t.Fatal(err)
	}
	created, updated, paused := mustTime("2024-01-02T03:04:05.678Z"), mustTime("2024-01-03T00:00:00Z"), mustTime("2024-01-04T00:00:00.5+01:00")
	paused1 := a.clone()
	paused1.Paused = true
	for _, tc := range []struct {
		name string
		a    MonitorAttrs
		st   MonitorState
		want map[string]any
	}{
		{"new", a, MonitorState{CreatedAt: created, UpdatedAt: updated}, map[string]any{
			"status": "pending", "paused": false, "paused_at": nil, "last_checked_at": nil,
			"created_at": "2024-01-02T03:04:05.678Z", "updated_at": "2024-01-03T00:00:00.000Z",
			"monitor_group_id": "42", "port": "443", "team_wait": 60.0,
		}},
		{"down", a, MonitorState{Status: "down", LastCheckedAt: updated}, map[string]any{
			"status": "down", "last_checked_at": "2024-01-03T00:00:00.000Z",
		}},
		{"paused", paused1, MonitorState{PausedAt: paused, UpdatedAt: updated}, map[string]any{
			"status": "paused", "paused": true, "paused_at": "2024-01-03T23:00:00.500Z",
		}},
		{"paused, moment unknown", paused1, MonitorState{Status: "paused", UpdatedAt: updated}, map[string]any{
			"paused_at": "2024-01-03T00:00:00.000Z",
		}},
		{"maintenance", a, MonitorState{Status: "maintenance"}, map[string]any{"status": "maintenance"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rendered(t, tc.a, tc.st)
			for k, want := range tc.want {
				if !reflect.DeepEqual(got[k], want) {
					t.Errorf("%s: got %#v, want %#v", k, got[k], want)
				}
			}
		})
	}
	// An answer does not alias the attrs it shows.
	r := RenderMonitor("1", a, MonitorState{})
	*r.Attributes.Port = "80"
	r.Attributes.Regions[0] = "xx"
	if *a.Port != "443" || a.Regions[0] != "us" {
		t.Fatal("rendering aliases the attrs")
	}
	// A zero MonitorAttrs renders lists as [], never null.
	got := rendered(t, MonitorAttrs{}, MonitorState{})
	for _, k := range []string{"regions", "request_headers", "expected_status_codes", "maintenance_days"} {
		if !reflect.DeepEqual(got[k], []any{}) {
			t.Errorf("%s: %#v", k, got[k])
		}
	}
}

// FuzzMonitorRoundTrip: no body panics, and a monitor that is accepted reads
// back, from its own answer, as itself.
func FuzzMonitorRoundTrip(f *testing.F) {
	for _, s := range []string{
		seedCreate, seedMonitor, `{}`, `null`, `[`, `{"request_headers": [null, 1, {"id": null}]}`,
		`{"url": "mx.example.com", "monitor_type": "smtp", "port": "25,465", "maintenance_from": "01:00:00", "maintenance_to": "02:00:00"}`,
		`{"url": "https://example.com", "monitor_type": "expected_status_code", "expected_status_codes": ["200", 301], "regions": ["eu"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseMonitorCreate(body, MonitorLimits{MinPeriod: time.Second})
		if _, err2 := ApplyMonitorPatch(DefaultMonitorAttrs(), body, MonitorLimits{RejectUnknown: true}); err != nil || err2 != nil {
			return
		}
		var attrs map[string]any
		b, _ := json.Marshal(RenderMonitor("1", a, MonitorState{}).Attributes)
		if err := json.Unmarshal(b, &attrs); err != nil {
			t.Fatal(err)
		}
		delete(attrs, "request_headers") // ids are the model's to give
		b, _ = json.Marshal(attrs)
		back, err := ParseMonitorCreate(b, MonitorLimits{MinPeriod: time.Second, RejectUnknown: true})
		if err != nil {
			t.Fatalf("own answer refused: %v\n%s", err, b)
		}
		back.RequestHeaders, back.LastHeaderID = a.RequestHeaders, a.LastHeaderID
		if !reflect.DeepEqual(back, a) {
			t.Fatalf("round trip\n got %+v\nwant %+v", back, a)
		}
	})
}
