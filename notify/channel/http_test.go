package channel_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilo/vigilo/netguard"
	"github.com/vigilo/vigilo/notify/channel"
)

func TestWebhookDefaultBody(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	cfg := parse(t, "webhook", `{"url": "`+r.URL+`/hook?x=1"}`)
	m := message("down")
	status, err := send(t, env(t), cfg, m)
	if err != nil || status != 200 {
		t.Fatalf("Send = %d, %v; want 200, nil", status, err)
	}
	got := r.one(t)
	if got.Method != "POST" || got.Path != "/hook" || got.Query != "x=1" {
		t.Errorf("request %s %s?%s, want POST /hook?x=1", got.Method, got.Path, got.Query)
	}
	if k := got.Header.Get("Idempotency-Key"); k != m.ID {
		t.Errorf("Idempotency-Key %q, want %q", k, m.ID)
	}
	if ua := got.Header.Get("User-Agent"); ua != "vigilo-test" {
		t.Errorf("User-Agent %q, want vigilo-test", ua)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	body := decode(t, got.Body)
	want := map[string]any{
		"id":    m.ID,
		"event": "down",
		"check": map[string]any{
			"uuid": m.Check.UUID, "name": m.Check.Name, "slug": m.Check.Slug,
			"tags": []any{"prod", "db"},
		},
		"flip_at":   "2026-03-04T05:06:07.89Z",
		"last_ping": "2026-03-04T04:01:02Z",
	}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body\n got %s\nwant %s", mustJSON(t, body), mustJSON(t, want))
	}
}

func TestWebhookDefaultBodyNeverPinged(t *testing.T) {
	r := newReceiver(t, http.StatusNoContent)
	cfg := parse(t, "webhook", `{"url": "`+r.URL+`"}`)
	m := message("up")
	m.Check.LastPing = time.Time{}
	m.Check.Tags = nil
	if status, err := send(t, env(t), cfg, m); err != nil || status != 204 {
		t.Fatalf("Send = %d, %v; want 204, nil", status, err)
	}
	body := decode(t, r.one(t).Body)
	if v, ok := body["last_ping"]; !ok || v != nil {
		t.Errorf("last_ping = %v (present %v), want null", v, ok)
	}
	if body["event"] != "up" {
		t.Errorf("event = %v, want up", body["event"])
	}
	if tags := body["check"].(map[string]any)["tags"]; !reflect.DeepEqual(tags, []any{}) {
		t.Errorf("tags = %#v, want []", tags)
	}
}

func TestWebhookTemplates(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	cfg := parse(t, "webhook", mustJSON(t, map[string]any{
		"url":       r.URL,
		"method":    "put",
		"headers":   map[string]string{"X-Token": "s3cret", "User-Agent": "custom-agent"},
		"body_down": `{"text": {{json .Check.Name}}, "event": {{json .Event}}, "tags": {{json .Check.Tags}}, "id": {{json .ID}}}`,
		"body_up":   `UP {{.Check.Slug}}{{range .Check.Tags}} #{{.}}{{end}}`,
	}))
	e := env(t)
	for _, event := range []string{"down", "test", "up"} {
		if _, err := send(t, e, cfg, message(event)); err != nil {
			t.Fatalf("Send %s: %v", event, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 3 {
		t.Fatalf("got %d requests, want 3", len(r.got))
	}
	for i, event := range []string{"down", "test"} {
		got := r.got[i]
		if got.Method != "PUT" {
			t.Errorf("%s: method %s, want PUT", event, got.Method)
		}
		if got.Header.Get("X-Token") != "s3cret" || got.Header.Get("User-Agent") != "custom-agent" {
			t.Errorf("%s: headers %v, want the configured ones", event, got.Header)
		}
		if got.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json for a JSON body", event, got.Header.Get("Content-Type"))
		}
		// The name has quotes and angle brackets: json must keep the body valid
		// and the value intact.
		body := decode(t, got.Body)
		want := map[string]any{"text": `Nightly "backup" <db>`, "event": event, "tags": []any{"prod", "db"}, "id": message(event).ID}
		if !reflect.DeepEqual(body, want) {
			t.Errorf("%s: body %s, want %s", event, got.Body, mustJSON(t, want))
		}
	}
	up := r.got[2]
	if string(up.Body) != "UP nightly-backup #prod #db" {
		t.Errorf("up body %q", up.Body)
	}
	if ct := up.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("up Content-Type %q, want text/plain", ct)
	}
	if up.Header.Get("Idempotency-Key") != message("up").ID {
		t.Errorf("up Idempotency-Key %q", up.Header.Get("Idempotency-Key"))
	}
}

func TestWebhookGetSendsNoBody(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	cfg := parse(t, "webhook", `{"url": "`+r.URL+`/ping", "method": "GET"}`)
	if _, err := send(t, env(t), cfg, message("down")); err != nil {
		t.Fatal(err)
	}
	got := r.one(t)
	if got.Method != "GET" || len(got.Body) != 0 {
		t.Errorf("got %s with %d body bytes, want GET without body", got.Method, len(got.Body))
	}
}

// A Webhook built in code, not by Parse, still renders its templates.
func TestWebhookWithoutParse(t *testing.T) {
	r := newReceiver(t, http.StatusOK)
	cfg := &channel.Webhook{URL: r.URL, BodyDown: `down {{.Check.Name}}`}
	if _, err := send(t, env(t), cfg, message("down")); err != nil {
		t.Fatal(err)
	}
	if got := r.one(t); got.Method != "POST" || string(got.Body) != `down Nightly "backup" <db>` {
		t.Errorf("got %s %q", got.Method, got.Body)
	}
}

func TestSlack(t *testing.T) {
	r := newTLSReceiver(t, http.StatusOK)
	cfg := parse(t, "slack", `{"url": "`+r.URL+`/services/T000/B000/XXXX"}`)
	e := tlsEnv(t, r.Server)
	for _, event := range []string{"down", "up"} {
		if status, err := send(t, e, cfg, message(event)); err != nil || status != 200 {
			t.Fatalf("Send %s = %d, %v", event, status, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, tc := range []struct{ text, color string }{
		{`The check "Nightly "backup" &lt;db&gt;" is DOWN.`, "danger"},
		{`The check "Nightly "backup" &lt;db&gt;" is now UP.`, "good"},
	} {
		got := r.got[i]
		if got.Method != "POST" || got.Path != "/services/T000/B000/XXXX" {
			t.Errorf("request %s %s", got.Method, got.Path)
		}
		if got.Header.Get("Content-Type") != "application/json" || got.Header.Get("Idempotency-Key") != message("down").ID {
			t.Errorf("headers %v", got.Header)
		}
		var p struct {
			Text        string `json:"text"`
			Attachments []struct {
				Color  string `json:"color"`
				Fields []struct {
					Title string `json:"title"`
					Value string `json:"value"`
					Short bool   `json:"short"`
				} `json:"fields"`
			} `json:"attachments"`
		}
		if err := json.Unmarshal(got.Body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Text != tc.text {
			t.Errorf("text %q, want %q", p.Text, tc.text)
		}
		if len(p.Attachments) != 1 || p.Attachments[0].Color != tc.color {
			t.Fatalf("attachments %+v, want one with color %s", p.Attachments, tc.color)
		}
		fields := map[string]string{}
		for _, f := range p.Attachments[0].Fields {
			fields[f.Title] = f.Value
		}
		want := map[string]string{
			"Last ping": "2026-03-04T04:01:02Z", "Changed at": "2026-03-04T05:06:07Z",
			"Tags": "prod db", "Description": "Runs at 02:00.",
		}
		if !reflect.DeepEqual(fields, want) {
			t.Errorf("fields %v, want %v", fields, want)
		}
	}
}

func TestPagerDuty(t *testing.T) {
	r := newReceiver(t, http.StatusAccepted)
	cfg := parse(t, "pagerduty", `{"routing_key": "R0UTINGKEY", "url": "`+r.URL+`/v2/enqueue"}`)
	e := env(t)
	for _, event := range []string{"down", "up"} {
		if status, err := send(t, e, cfg, message(event)); err != nil || status != 202 {
			t.Fatalf("Send %s = %d, %v", event, status, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := message("down")
	trigger := r.got[0]
	if trigger.Method != "POST" || trigger.Path != "/v2/enqueue" || trigger.Header.Get("Idempotency-Key") != m.ID {
		t.Errorf("trigger request %s %s %v", trigger.Method, trigger.Path, trigger.Header)
	}
	want := map[string]any{
		"routing_key":  "R0UTINGKEY",
		"event_action": "trigger",
		"dedup_key":    m.Check.UUID,
		"payload": map[string]any{
			"summary":   `"Nightly \"backup\" <db>" is DOWN`,
			"source":    "vigilo",
			"severity":  "critical",
			"timestamp": "2026-03-04T05:06:07.89Z",
			"custom_details": map[string]any{
				"check_uuid": m.Check.UUID, "check_name": m.Check.Name, "notification_id": m.ID,
				"event": "down", "tags": []any{"prod", "db"}, "last_ping": "2026-03-04T04:01:02Z",
				"slug": "nightly-backup", "description": "Runs at 02:00.",
			},
		},
	}
	if got := decode(t, trigger.Body); !reflect.DeepEqual(got, want) {
		t.Errorf("trigger\n got %s\nwant %s", trigger.Body, mustJSON(t, want))
	}
	resolve := decode(t, r.got[1].Body)
	wantResolve := map[string]any{"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": m.Check.UUID}
	if !reflect.DeepEqual(resolve, wantResolve) {
		t.Errorf("resolve %v, want %v", resolve, wantResolve)
	}
}

func TestOpsgenie(t *testing.T) {
	r := newReceiver(t, http.StatusAccepted)
	cfg := parse(t, "opsgenie", `{"api_key": "k-123", "url": "`+r.URL+`/", "priority": "p2"}`)
	e := env(t)
	plain := message("down")
	custom := message("down")
	custom.Check.AlertMessage = "Backups stopped"
	custom.Check.AlertTags = []string{"backup"}
	custom.Check.AlertPriority = "P1"
	for _, m := range []channel.Message{plain, custom, message("up")} {
		if status, err := send(t, e, cfg, m); err != nil || status != 202 {
			t.Fatalf("Send %s = %d, %v", m.Event, status, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, got := range r.got {
		if got.Method != "POST" || got.Header.Get("Authorization") != "GenieKey k-123" || got.Header.Get("Idempotency-Key") != plain.ID {
			t.Errorf("request %s %s headers %v", got.Method, got.Path, got.Header)
		}
	}
	if r.got[0].Path != "/v2/alerts" || r.got[0].Query != "" {
		t.Errorf("create path %s?%s, want /v2/alerts", r.got[0].Path, r.got[0].Query)
	}
	details := map[string]any{
		"check_uuid": plain.Check.UUID, "check_name": plain.Check.Name, "notification_id": plain.ID,
		"event": "down", "flip_at": "2026-03-04T05:06:07.89Z", "last_ping": "2026-03-04T04:01:02Z",
		"slug": "nightly-backup",
	}
	want := map[string]any{
		"message":     `"Nightly \"backup\" <db>" is down`,
		"alias":       plain.Check.UUID,
		"description": "Runs at 02:00.",
		"tags":        []any{"prod", "db"},
		"priority":    "P2",
		"source":      "vigilo",
		"details":     details,
	}
	if got := decode(t, r.got[0].Body); !reflect.DeepEqual(got, want) {
		t.Errorf("create\n got %s\nwant %s", r.got[0].Body, mustJSON(t, want))
	}
	want["message"], want["tags"], want["priority"] = "Backups stopped", []any{"backup"}, "P1"
	if got := decode(t, r.got[1].Body); !reflect.DeepEqual(got, want) {
		t.Errorf("create with alert fields\n got %s\nwant %s", r.got[1].Body, mustJSON(t, want))
	}
	closeReq := r.got[2]
	if closeReq.Path != "/v2/alerts/"+plain.Check.UUID+"/close" || closeReq.Query != "identifierType=alias" {
		t.Errorf("close path %s?%s", closeReq.Path, closeReq.Query)
	}
	body := decode(t, closeReq.Body)
	if body["source"] != "vigilo" || body["note"] == "" || len(body) != 2 {
		t.Errorf("close body %s", closeReq.Body)
	}
}

func TestHTTPStatusClassification(t *testing.T) {
	for _, tc := range []struct {
		status    int
		permanent bool
	}{
		{500, false}, {503, false}, {400, true}, {401, true}, {404, true},
		{408, false}, {429, false}, {302, false},
	} {
		r := newReceiver(t, tc.status)
		for _, kind := range []string{"webhook", "slack"} {
			cfg := parse(t, kind, `{"url": "`+r.URL+`"}`)
			status, err := send(t, env(t), cfg, message("down"))
			if err == nil {
				t.Fatalf("%s %d: Send succeeded", kind, tc.status)
			}
			if status != tc.status {
				t.Errorf("%s %d: status %d", kind, tc.status, status)
			}
			if errors.Is(err, channel.ErrPermanent) != tc.permanent {
				t.Errorf("%s %d: permanent = %v, want %v (%v)", kind, tc.status, !tc.permanent, tc.permanent, err)
			}
		}
	}
}

// The error must not repeat the URL: Slack's carries the webhook's secret.
func TestErrorHidesURLPath(t *testing.T) {
	r := newReceiver(t, 500)
	cfg := parse(t, "slack", `{"url": "`+r.URL+`/services/SECRET"}`)
	_, err := send(t, env(t), cfg, message("down"))
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %v", err)
	}
	r.Close()
	_, err = send(t, env(t), cfg, message("down"))
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %v", err)
	}
}

func TestReceiverNeverAnswers(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets the handler return so Close can finish
	cfg := parse(t, "webhook", `{"url": "`+srv.URL+`"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	status, err := channel.Send(ctx, env(t), cfg, message("down"))
	if status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %d, %v; want 0, DeadlineExceeded", status, err)
	}
	if errors.Is(err, channel.ErrPermanent) {
		t.Error("timeout reported as permanent")
	}
	select {
	case <-arrived:
	default:
		t.Error("the request never reached the receiver")
	}
}

func TestDenyPrivateRefusesLoopback(t *testing.T) {
	r := newReceiver(t, 200)
	g, err := netguard.New(netguard.Options{DenyPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	e := &channel.Env{Dial: g.DialContext}
	localhost := strings.Replace(r.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{r.URL, localhost} {
		cfg := parse(t, "webhook", `{"url": "`+u+`"}`)
		status, err := send(t, e, cfg, message("down"))
		if status != 0 || !errors.Is(err, netguard.ErrDenied) {
			t.Errorf("Send to %s = %d, %v; want ErrDenied", u, status, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 0 {
		t.Errorf("the receiver got %d requests", len(r.got))
	}
}

// Each Env gets its own client: one trusting one server's certificate does
// not leak that trust into another Env.
func TestEnvsAreIndependent(t *testing.T) {
	a := newTLSReceiver(t, 200)
	b := newTLSReceiver(t, 200)
	envA, envB := tlsEnv(t, a.Server), tlsEnv(t, b.Server)
	cfgA := parse(t, "slack", `{"url": "`+a.URL+`"}`)
	cfgB := parse(t, "slack", `{"url": "`+b.URL+`"}`)
	if _, err := send(t, envA, cfgA, message("down")); err != nil {
		t.Fatalf("A via envA: %v", err)
	}
	if _, err := send(t, envB, cfgB, message("down")); err != nil {
		t.Fatalf("B via envB: %v", err)
	}
	if _, err := send(t, envA, cfgB, message("down")); err == nil {
		t.Fatal("B via envA succeeded; envA must not trust B's certificate")
	}
	if _, err := send(t, env(t), cfgA, message("down")); err == nil {
		t.Fatal("A via an Env with system roots succeeded")
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	r := newReceiver(t, 200)
	cfg := parse(t, "webhook", `{"url": "`+r.URL+`"}`)
	if _, err := channel.Send(context.Background(), nil, cfg, message("down")); err == nil {
		t.Error("nil Env accepted")
	}
	if _, err := channel.Send(context.Background(), &channel.Env{}, cfg, message("down")); err == nil {
		t.Error("Env without Dial accepted")
	}
	if _, err := channel.Send(context.Background(), env(t), cfg, message("sideways")); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("unknown event: %v, want ErrPermanent", err)
	}
	if _, err := channel.Send(context.Background(), env(t), nil, message("down")); !errors.Is(err, channel.ErrPermanent) {
		t.Errorf("nil config: %v, want ErrPermanent", err)
	}
	noUUID := message("down")
	noUUID.Check.UUID = ""
	for _, kind := range []string{"pagerduty", "opsgenie"} {
		key := map[string]string{"pagerduty": "routing_key", "opsgenie": "api_key"}[kind]
		c := parse(t, kind, `{"`+key+`": "k", "url": "`+r.URL+`"}`)
		if _, err := channel.Send(context.Background(), env(t), c, noUUID); !errors.Is(err, channel.ErrPermanent) {
			t.Errorf("%s without check UUID: %v, want ErrPermanent", kind, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 0 {
		t.Errorf("receiver got %d requests", len(r.got))
	}
}
