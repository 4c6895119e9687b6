package channel_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilo/vigilo/notify/channel"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		kind, raw string
		want      string // the error must contain this
	}{
		{"sms", `{}`, `unknown channel kind "sms"`},
		{"webhook", ``, "must be a JSON object"},
		{"webhook", `null`, "must be a JSON object"},
		{"webhook", `[1]`, "must be a JSON object"},
		{"webhook", `{"url": "http://x"} {}`, "unexpected data"},
		{"webhook", `{"url": `, "invalid JSON"},
		{"webhook", `{}`, `webhook: "url" is required`},
		{"webhook", `{"url": "http://x", "bogus": 1}`, `webhook: unknown key "bogus"`},
		{"webhook", `{"url": 5}`, `webhook: "url" must be a string`},
		{"webhook", `{"url": "ftp://x/y"}`, `webhook: "url" must be an http or https URL`},
		{"webhook", `{"url": "example.com/hook"}`, `webhook: "url" must be an http or https URL`},
		{"webhook", `{"url": "http:///path"}`, `webhook: "url" has no host`},
		{"webhook", `{"url": "http://x", "method": "TRACE"}`, `webhook: "method" must be one of`},
		{"webhook", `{"url": "http://x", "headers": {"Bad Name": "v"}}`, `"headers": "Bad Name" is not a valid header name`},
		{"webhook", `{"url": "http://x", "headers": {"X-A": "a\r\nX-B: b"}}`, `line break`},
		{"webhook", `{"url": "http://x", "headers": {"Host": "evil"}}`, `"Host" cannot be set`},
		{"webhook", `{"url": "http://x", "headers": ["a"]}`, `"headers" must be an object`},
		{"webhook", `{"url": "http://x", "body_down": "{{.Check.Name"}`, `webhook: "body_down" is not a valid template`},
		{"webhook", `{"url": "http://x", "body_up": "{{.Check.Nope}}"}`, `webhook: "body_up" cannot be rendered`},
		{"webhook", `{"url": "http://x", "body_up": "{{nofunc 1}}"}`, `webhook: "body_up" is not a valid template`},
		{"webhook", `{"url": "http://x", "body_down": "{{range 1000000000000}}x{{end}}"}`, `"body_down": {{range}} may only loop over`},
		{"webhook", `{"url": "http://x", "body_down": "{{$n := 9999999999}}{{range $n}}x{{end}}"}`, `{{range}} may only loop over`},
		{"webhook", `{"url": "http://x", "method": "GET", "body_down": "x"}`, `cannot be used with method GET`},
		{"slack", `{}`, `slack: "url" is required`},
		{"slack", `{"url": "https://hooks.slack.com/x", "channel": "#a"}`, `slack: unknown key "channel"`},
		{"pagerduty", `{}`, `pagerduty: "routing_key" is required`},
		{"pagerduty", `{"routing_key": "k", "severity": "urgent"}`, `pagerduty: "severity" must be one of`},
		{"pagerduty", `{"routing_key": "k", "url": "gopher://x"}`, `pagerduty: "url" must be an http or https URL`},
		{"opsgenie", `{"url": "https://api.opsgenie.com"}`, `opsgenie: "api_key" is required`},
		{"opsgenie", `{"api_key": "k", "priority": "P9"}`, `opsgenie: "priority" must be one of`},
		{"opsgenie", `{"api_key": "k", "region": "eu"}`, `opsgenie: unknown key "region"`},
		{"email", `{"from": "a@b.c", "to": ["d@e.f"]}`, `email: "host" is required`},
		{"email", `{"host": "smtp.x:25", "from": "a@b.c", "to": ["d@e.f"]}`, `email: "host" must be a host name`},
		{"email", `{"host": "smtp.x", "to": ["d@e.f"]}`, `email: "from" is required`},
		{"email", `{"host": "smtp.x", "from": "nope", "to": ["d@e.f"]}`, `email: "from" is not a valid address`},
		{"email", `{"host": "smtp.x", "from": "a@b.c"}`, `email: "to" is required`},
		{"email", `{"host": "smtp.x", "from": "a@b.c", "to": "d@e.f"}`, `email: "to" must be a list`},
		{"email", `{"host": "smtp.x", "from": "a@b.c", "to": ["d@e.f", "bad"]}`, `email: "to" has an invalid address: "bad"`},
		{"email", `{"host": "smtp.x", "from": "a@b.c", "to": ["d@e.f"], "tls": "ssl"}`, `email: "tls" must be one of`},
		{"email", `{"host": "smtp.x", "from": "a@b.c", "to": ["d@e.f"], "port": 70000}`, `email: "port" must be between`},
		{"email", `{"host": "smtp.x", "from": "a@b.c", "to": ["d@e.f"], "port": "25"}`, `email: "port" must be a number`},
		{"email", `{"host": "smtp.x", "from": "a@b.c", "to": ["d@e.f"], "username": "u"}`, `"username" and "password" must be set together`},
	} {
		cfg, err := channel.Parse(tc.kind, []byte(tc.raw))
		if err == nil {
			t.Errorf("Parse(%s, %s) = %+v, want error containing %q", tc.kind, tc.raw, cfg, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s, %s): %q, want it to contain %q", tc.kind, tc.raw, err, tc.want)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	for _, tc := range []struct {
		kind, raw string
		want      channel.Config
	}{
		{"webhook", `{"url": "https://example.com/h"}`, &channel.Webhook{URL: "https://example.com/h", Method: "POST"}},
		{"slack", `{"url": "https://hooks.slack.com/services/x"}`, &channel.Slack{URL: "https://hooks.slack.com/services/x"}},
		{"pagerduty", `{"routing_key": "abc"}`, &channel.PagerDuty{RoutingKey: "abc", URL: "https://events.pagerduty.com/v2/enqueue", Severity: "critical"}},
		{"pagerduty", `{"routing_key": "abc", "severity": "Warning"}`, &channel.PagerDuty{RoutingKey: "abc", URL: "https://events.pagerduty.com/v2/enqueue", Severity: "warning"}},
		{"opsgenie", `{"api_key": "k"}`, &channel.Opsgenie{APIKey: "k", URL: "https://api.opsgenie.com", Priority: "P3"}},
		{"opsgenie", `{"api_key": "k", "url": "https://api.eu.opsgenie.com/"}`, &channel.Opsgenie{APIKey: "k", URL: "https://api.eu.opsgenie.com", Priority: "P3"}},
		{"email", `{"host": "smtp.example.com", "from": "a@b.c", "to": ["d@e.f"]}`,
			&channel.Email{Host: "smtp.example.com", Port: 587, TLS: "starttls", From: "a@b.c", To: []string{"d@e.f"}}},
		{"email", `{"host": "smtp.example.com", "port": 465, "from": "a@b.c", "to": ["d@e.f"]}`,
			&channel.Email{Host: "smtp.example.com", Port: 465, TLS: "tls", From: "a@b.c", To: []string{"d@e.f"}}},
		{"email", `{"host": "smtp.example.com", "tls": "tls", "from": "a@b.c", "to": ["d@e.f"]}`,
			&channel.Email{Host: "smtp.example.com", Port: 465, TLS: "tls", From: "a@b.c", To: []string{"d@e.f"}}},
		{"email", `{"host": "10.0.0.5", "port": 25, "tls": "none", "from": "Vigilo <a@b.c>", "to": ["d@e.f"]}`,
			&channel.Email{Host: "10.0.0.5", Port: 25, TLS: "none", From: "Vigilo <a@b.c>", To: []string{"d@e.f"}}},
	} {
		got, err := channel.Parse(tc.kind, []byte(tc.raw))
		if err != nil {
			t.Errorf("Parse(%s, %s): %v", tc.kind, tc.raw, err)
			continue
		}
		if got.Kind() != tc.kind {
			t.Errorf("Kind() = %s, want %s", got.Kind(), tc.kind)
		}
		if mustJSON(t, got) != mustJSON(t, tc.want) {
			t.Errorf("Parse(%s, %s) = %s, want %s", tc.kind, tc.raw, mustJSON(t, got), mustJSON(t, tc.want))
		}
	}
}

// A parsed config marshals back to JSON that Parse accepts unchanged, so it
// can be stored as JSON and parsed again on load.
func TestParseRoundTrip(t *testing.T) {
	for _, tc := range []struct{ kind, raw string }{
		{"webhook", `{"url": "https://e.com/h", "method": "patch", "headers": {"X-A": "1"}, "body_down": "{{json .Check.Name}}", "body_up": "up"}`},
		{"slack", `{"url": "https://hooks.slack.com/services/x"}`},
		{"pagerduty", `{"routing_key": "abc", "severity": "info"}`},
		{"opsgenie", `{"api_key": "k", "priority": "P1"}`},
		{"email", `{"host": "smtp.e.com", "username": "u", "password": "p", "from": "a@b.c", "to": ["d@e.f", "g@h.i"]}`},
	} {
		first := parse(t, tc.kind, tc.raw)
		b, err := json.Marshal(first)
		if err != nil {
			t.Fatal(err)
		}
		second := parse(t, tc.kind, string(b))
		if !reflect.DeepEqual(mustJSON(t, first), mustJSON(t, second)) {
			t.Errorf("%s: %s then %s", tc.kind, mustJSON(t, first), mustJSON(t, second))
		}
	}
	if len(channel.Kinds) != 5 {
		t.Errorf("Kinds = %v", channel.Kinds)
	}
}
