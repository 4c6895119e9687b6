package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// delivery is one request a receiver got.
type delivery struct {
	Path, Method string
	Header       http.Header
	Body         map[string]any
	Raw          string
	At           time.Time
}

// receiver is an HTTP endpoint standing in for a webhook, Slack, PagerDuty or
// Opsgenie: it records every request, answering with status(n) for the n-th
// (from 1) request of its path.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []delivery
	status func(path string, n int) int
	hang   chan struct{} // paths under /hang/ block until this closes
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, hang: make(chan struct{})}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/hang/") {
			select {
			case <-rc.hang:
			case <-r.Context().Done():
			}
			return
		}
		raw, _ := io.ReadAll(r.Body)
		d := delivery{Path: r.URL.Path, Method: r.Method, Header: r.Header.Clone(), Raw: string(raw), At: time.Now()}
		if r.URL.RawQuery != "" {
			d.Path += "?" + r.URL.RawQuery
		}
		json.Unmarshal(raw, &d.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		n := 0
		for _, g := range rc.got {
			if g.Path == d.Path {
				n++
			}
		}
		status := 200
		if rc.status != nil {
			status = rc.status(d.Path, n)
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(rc.hang); rc.srv.Close() })
	return rc
}

func (rc *receiver) setStatus(f func(path string, n int) int) {
	rc.mu.Lock()
	rc.status = f
	rc.mu.Unlock()
}

// wait returns the requests whose path starts with prefix once there are n,
// failing after limit.
func (rc *receiver) wait(prefix string, n int, limit time.Duration) []delivery {
	rc.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		rc.mu.Lock()
		var out []delivery
		for _, d := range rc.got {
			if strings.HasPrefix(d.Path, prefix) {
				out = append(out, d)
			}
		}
		rc.mu.Unlock()
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("receiver %s: %d requests, want %d within %v", prefix, len(out), n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (rc *receiver) count(prefix string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, d := range rc.got {
		if strings.HasPrefix(d.Path, prefix) {
			n++
		}
	}
	return n
}

// mailbox is a real SMTP server (emersion/go-smtp) that keeps what it receives.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []mail
}

type mail struct {
	From string
	To   []string
	Data string
}

func newMailbox(t *testing.T) *mailbox {
	mb := &mailbox{}
	srv := smtp.NewServer(smtpBackend{mb})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return mb
}

func (mb *mailbox) wait(t *testing.T, n int, limit time.Duration) []mail {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		mb.mu.Lock()
		out := append([]mail(nil), mb.msgs...)
		mb.mu.Unlock()
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailbox: %d messages, want %d within %v", len(out), n, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type smtpBackend struct{ mb *mailbox }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{mb: b.mb}, nil
}

type smtpSession struct {
	mb *mailbox
	m  mail
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.m.From = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.To = append(s.m.To, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.Data = string(b)
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, s.m)
	s.mb.mu.Unlock()
	s.m = mail{}
	return nil
}
func (s *smtpSession) Reset()        { s.m = mail{} }
func (s *smtpSession) Logout() error { return nil }

type channelJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

func (s *server) addChannel(name, kind, config string) string {
	s.t.Helper()
	var ch channelJSON
	s.api("POST", "/api/v3/channels/", apiKey,
		fmt.Sprintf(`{"name": %q, "kind": %q, "config": %s}`, name, kind, config), 201, &ch)
	if ch.ID == "" || ch.Name != name || ch.Kind != kind {
		s.t.Fatalf("created channel: %+v", ch)
	}
	return ch.ID
}

type notificationJSON struct {
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	Event    string `json:"event"`
	Created  string `json:"created"`
	State    string `json:"state"`
	Attempts []struct {
		At      string  `json:"at"`
		Status  int     `json:"status"`
		Error   string  `json:"error"`
		Latency float64 `json:"latency_seconds"`
	} `json:"attempts"`
}

func (s *server) notifications(checkID string) []notificationJSON {
	s.t.Helper()
	var out struct {
		Notifications []notificationJSON `json:"notifications"`
	}
	s.api("GET", "/api/v3/checks/"+checkID+"/notifications/", apiKey, "", 200, &out)
	return out.Notifications
}

// waitNotified polls the notification log until n notifications are in state.
func (s *server) waitNotified(checkID, state string, n int, limit time.Duration) []notificationJSON {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		list := s.notifications(checkID)
		k := 0
		for _, x := range list {
			if x.State == state {
				k++
			}
		}
		if k >= n {
			return list
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("check %s: %d notifications %s, want %d: %+v", checkID, k, state, n, list)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Every channel kind gets its down and up notification, in its documented
// shape, through real receivers; the log shows each delivered once.
func TestAlertsEveryKind(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	mb := newMailbox(t)
	s := start(t, "", "--notify-max-backoff", "1s")
	host, port, _ := net.SplitHostPort(mb.addr)

	ids := map[string]string{
		"webhook": s.addChannel("hook", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/webhook")),
		"slack":   s.addChannel("chat", "slack", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/slack")),
		"pagerduty": s.addChannel("pd", "pagerduty",
			fmt.Sprintf(`{"url": %q, "routing_key": "R0UTINGKEY"}`, rc.srv.URL+"/pd")),
		"opsgenie": s.addChannel("og", "opsgenie", fmt.Sprintf(`{"url": %q, "api_key": "og-key"}`, rc.srv.URL+"/og")),
		"email": s.addChannel("mail", "email",
			fmt.Sprintf(`{"host": %q, "port": %s, "tls": "none", "from": "vigilo@example.com", "to": ["ops@example.com"]}`, host, port)),
	}
	var list struct {
		Channels []channelJSON `json:"channels"`
	}
	s.api("GET", "/api/v1/channels/", apiKey, "", 200, &list)
	if len(list.Channels) != 5 {
		t.Fatalf("channels: %+v", list)
	}
	for _, ch := range list.Channels {
		if ids[ch.Kind] != ch.ID {
			t.Errorf("listed channel %+v, created %s", ch, ids[ch.Kind])
		}
	}

	c := s.create(apiKey, `{"name": "nightly backup", "tags": "prod db", "timeout": 1, "grace": 1, "channels": "*"}`)
	if c.Channels == nil || len(strings.Split(*c.Channels, ",")) != 5 {
		t.Fatalf(`channels "*" assigned %v`, c.Channels)
	}
	s.ping("/ping/" + c.UUID)
	s.waitFlips(c.UUID, 2)
	log := s.waitNotified(c.UUID, "delivered", 5, 15*time.Second)

	hook := rc.wait("/webhook", 1, 5*time.Second)[0]
	if hook.Method != "POST" || hook.Body["event"] != "down" || hook.Header.Get("Content-Type") != "application/json" {
		t.Errorf("webhook: %s %v %v", hook.Method, hook.Header, hook.Body)
	}
	chk, _ := hook.Body["check"].(map[string]any)
	if chk["uuid"] != c.UUID || chk["name"] != "nightly backup" || fmt.Sprint(chk["tags"]) != "[prod db]" {
		t.Errorf("webhook check: %v", chk)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(hook.Body["flip_at"])); err != nil {
		t.Errorf("webhook flip_at %v: %v", hook.Body["flip_at"], err)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(hook.Body["last_ping"])); err != nil {
		t.Errorf("webhook last_ping %v: %v", hook.Body["last_ping"], err)
	}
	byID := map[string]notificationJSON{}
	for _, n := range log {
		byID[n.ID] = n
	}
	if n, ok := byID[fmt.Sprint(hook.Body["id"])]; !ok || n.Channel != ids["webhook"] || hook.Header.Get("Idempotency-Key") != n.ID {
		t.Errorf("webhook id %v / Idempotency-Key %q not the logged notification %+v", hook.Body["id"], hook.Header.Get("Idempotency-Key"), n)
	}

	slack := rc.wait("/slack", 1, 5*time.Second)[0]
	if text, _ := slack.Body["text"].(string); !strings.Contains(text, "nightly backup") {
		t.Errorf("slack text: %v", slack.Body)
	}

	pd := rc.wait("/pd", 1, 5*time.Second)[0]
	payload, _ := pd.Body["payload"].(map[string]any)
	if pd.Body["routing_key"] != "R0UTINGKEY" || pd.Body["event_action"] != "trigger" || pd.Body["dedup_key"] != c.UUID ||
		payload["summary"] == nil || payload["source"] == nil || payload["severity"] == nil {
		t.Errorf("pagerduty trigger: %v", pd.Body)
	}

	og := rc.wait("/og", 1, 5*time.Second)[0]
	if og.Path != "/og/v2/alerts" || og.Header.Get("Authorization") != "GenieKey og-key" ||
		og.Body["alias"] != c.UUID || og.Body["message"] == nil {
		t.Errorf("opsgenie create: %s %v %v", og.Path, og.Header.Get("Authorization"), og.Body)
	}

	m := mb.wait(t, 1, 5*time.Second)[0]
	if m.From != "vigilo@example.com" || len(m.To) != 1 || m.To[0] != "ops@example.com" ||
		!strings.Contains(m.Data, "nightly backup") || !strings.Contains(m.Data, "DOWN") {
		t.Errorf("email: %+v", m)
	}

	for _, n := range log {
		if n.Event != "down" || len(n.Attempts) != 1 || n.Attempts[0].Error != "" {
			t.Errorf("logged notification: %+v", n)
		}
	}

	// Back up: each kind's "up" form. Paused then, so it does not go down again.
	s.ping("/ping/" + c.UUID)
	s.api("POST", "/api/v3/checks/"+c.UUID+"/pause", apiKey, "", 200, nil)
	log = s.waitNotified(c.UUID, "delivered", 10, 15*time.Second)
	if log[0].Event != "up" || log[len(log)-1].Event != "down" {
		t.Errorf("log not newest first: %+v", log)
	}
	if up := rc.wait("/webhook", 2, 5*time.Second)[1]; up.Body["event"] != "up" {
		t.Errorf("webhook up: %v", up.Body)
	}
	if res := rc.wait("/pd", 2, 5*time.Second)[1]; res.Body["event_action"] != "resolve" || res.Body["dedup_key"] != c.UUID {
		t.Errorf("pagerduty resolve: %v", res.Body)
	}
	if cl := rc.wait("/og", 2, 5*time.Second)[1]; cl.Path != "/og/v2/alerts/"+c.UUID+"/close?identifierType=alias" {
		t.Errorf("opsgenie close: %s", cl.Path)
	}
	if up := mb.wait(t, 2, 5*time.Second)[1]; !strings.Contains(up.Data, "UP") {
		t.Errorf("email up: %+v", up)
	}
	// Nothing was delivered twice.
	for _, p := range []string{"/webhook", "/slack", "/pd", "/og"} {
		if n := rc.count(p); n != 2 {
			t.Errorf("%s got %d requests, want 2", p, n)
		}
	}

	// A test notification goes out at once and answers how it went.
	var res struct {
		Delivered bool `json:"delivered"`
		Status    int  `json:"status"`
	}
	s.api("POST", "/api/v3/channels/"+ids["webhook"]+"/test", apiKey, "", 200, &res)
	if !res.Delivered || res.Status != 200 {
		t.Errorf("test notification: %+v", res)
	}
	if d := rc.wait("/webhook", 3, 5*time.Second)[2]; d.Body["event"] != "test" {
		t.Errorf("test delivery: %v", d.Body)
	}
}

// A receiver that fails for a while gets the notification once it recovers,
// with every attempt logged; a flap meanwhile arrives as down then up.
func TestAlertsRetryUntilDelivered(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	rc.setStatus(func(path string, n int) int {
		if n <= 3 {
			return 500
		}
		return 200
	})
	s := start(t, "", "--notify-max-backoff", "1s")
	ch := s.addChannel("hook", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/flaky"))
	c := s.create(apiKey, fmt.Sprintf(`{"name": "flappy", "timeout": 1, "grace": 1, "channels": %q}`, ch))
	s.ping("/ping/" + c.UUID)
	s.waitStatus(c.UUID, "down", 10*time.Second)
	// The API shows down from the deadline on; the flip is written by the
	// deadline's timer, up to a tick later. Ping only once it is.
	s.waitFlips(c.UUID, 2)
	s.ping("/ping/" + c.UUID)                                              // up again while the down notification is still failing
	s.api("POST", "/api/v3/checks/"+c.UUID+"/pause", apiKey, "", 200, nil) // no second down
	log := s.waitNotified(c.UUID, "delivered", 2, 20*time.Second)
	if len(log) != 2 || log[1].Event != "down" || log[0].Event != "up" {
		t.Fatalf("log: %+v", log)
	}
	down := log[1]
	if len(down.Attempts) != 4 {
		t.Fatalf("down notification attempts: %+v", down.Attempts)
	}
	for i, a := range down.Attempts[:3] {
		if a.Status != 500 || a.Error == "" {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
	if last := down.Attempts[3]; last.Status != 200 || last.Error != "" {
		t.Errorf("delivering attempt: %+v", last)
	}
	got := rc.wait("/flaky", 5, time.Second)
	var events []string
	for _, d := range got {
		events = append(events, fmt.Sprint(d.Body["event"]))
	}
	if strings.Join(events, ",") != "down,down,down,down,up" {
		t.Errorf("receiver saw %v, want down (three failures, then delivered) then up", events)
	}
}

// Notifications not yet delivered when the server is killed are delivered after
// it restarts.
func TestAlertsSurviveKill9(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	rc.setStatus(func(string, int) int { return 503 })
	s := start(t, "", "--notify-max-backoff", "1s")
	ch := s.addChannel("hook", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/later"))
	c := s.create(apiKey, fmt.Sprintf(`{"name": "k9", "timeout": 1, "grace": 1, "channels": %q}`, ch))
	s.ping("/ping/" + c.UUID)
	s.waitStatus(c.UUID, "down", 10*time.Second)
	rc.wait("/later", 1, 10*time.Second)
	if log := s.notifications(c.UUID); len(log) != 1 || log[0].State != "pending" {
		t.Fatalf("before kill: %+v", log)
	}
	s.kill9()
	rc.setStatus(func(string, int) int { return 200 })
	s.restart()
	log := s.waitNotified(c.UUID, "delivered", 1, 15*time.Second)
	if len(log) != 1 || log[0].Event != "down" {
		t.Fatalf("after restart: %+v", log)
	}
	got := rc.wait("/later", 2, time.Second)
	if ok := got[len(got)-1]; ok.Header.Get("Idempotency-Key") != log[0].ID {
		t.Errorf("redelivery carries Idempotency-Key %q, want %s", ok.Header.Get("Idempotency-Key"), log[0].ID)
	}
}

// A receiver that never answers holds up only its own channel.
func TestAlertsHungReceiverDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	s := start(t, "", "--notify-timeout", "60s")
	hung := s.addChannel("hung", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/hang/x"))
	fine := s.addChannel("fine", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/fine"))
	var checks []check
	for i := 0; i < 12; i++ { // more checks than a channel has delivery slots
		checks = append(checks, s.create(apiKey,
			fmt.Sprintf(`{"name": "c%d", "timeout": 1, "grace": 1, "channels": "%s,%s"}`, i, hung, fine)))
	}
	for _, c := range checks {
		s.ping("/ping/" + c.UUID)
	}
	rc.wait("/fine", len(checks), 20*time.Second)
	for _, c := range checks {
		for _, n := range s.notifications(c.UUID) {
			if n.Channel == hung && n.State != "pending" {
				t.Errorf("notification through the hung channel: %+v", n)
			}
		}
	}
}

// Channel API errors answer in Healthchecks' format, and --deny-private-targets
// refuses a loopback receiver at connect time.
func TestAlertsAPIErrorsAndDenyPrivate(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	s := start(t, "", "--deny-private-targets")
	for _, tc := range []struct{ body, want string }{
		{`{"kind": "carrier-pigeon", "config": {}}`, "unknown channel kind"},
		{`{"kind": "webhook", "config": {}}`, "url"},
		{`{"kind": "webhook", "config": {"url": "http://x", "bogus": 1}}`, "bogus"},
		{`{"kind": "webhook"}`, "config is required"},
		{`{"name": 5, "kind": "webhook", "config": {}}`, "name is not a string"},
		{`not json`, "could not parse request body"},
	} {
		b := s.api("POST", "/api/v3/channels/", apiKey, tc.body, 400, nil)
		var e struct{ Error string }
		if json.Unmarshal(b, &e); !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: error %q, want it to mention %q", tc.body, e.Error, tc.want)
		}
	}
	s.api("GET", "/api/v3/channels/", roKey, "", 401, nil)
	b := s.api("POST", "/api/v3/checks/", apiKey, `{"name": "x", "channels": "4ec5a071-2d08-4baa-898a-eb4eb3cd6941"}`, 400, nil)
	if !strings.Contains(string(b), "invalid channel identifier: 4ec5a071-2d08-4baa-898a-eb4eb3cd6941") {
		t.Errorf("unknown channel id: %s", b)
	}
	s.api("GET", "/api/v3/checks/4ec5a071-2d08-4baa-898a-eb4eb3cd6941/notifications/", apiKey, "", 404, nil)

	ch := s.addChannel("local", "webhook", fmt.Sprintf(`{"url": %q}`, rc.srv.URL+"/private"))
	var res struct {
		Delivered bool   `json:"delivered"`
		Error     string `json:"error"`
	}
	s.api("POST", "/api/v3/channels/"+ch+"/test", apiKey, "", 200, &res)
	if res.Delivered || !strings.Contains(res.Error, "private") {
		t.Errorf("test to a loopback receiver under --deny-private-targets: %+v", res)
	}
	if n := rc.count("/private"); n != 0 {
		t.Errorf("denied receiver got %d requests", n)
	}
	// Update and delete.
	s.api("POST", "/api/v3/channels/"+ch, apiKey, `{"name": "renamed"}`, 200, nil)
	var got struct {
		channelJSON
		Config map[string]any `json:"config"`
	}
	s.api("GET", "/api/v3/channels/"+ch, apiKey, "", 200, &got)
	if got.Name != "renamed" || got.Config["url"] != rc.srv.URL+"/private" {
		t.Errorf("after update: %+v", got)
	}
	c := s.create(apiKey, fmt.Sprintf(`{"name": "assigned", "channels": %q}`, ch))
	if c.Channels == nil || *c.Channels != ch {
		t.Fatalf("assigned channels %v, want %s", c.Channels, ch)
	}
	s.api("DELETE", "/api/v3/channels/"+ch, apiKey, "", 200, nil)
	s.api("GET", "/api/v3/channels/"+ch, apiKey, "", 404, nil)
	// A deleted channel is no longer shown as assigned.
	var after check
	s.api("GET", "/api/v3/checks/"+c.UUID, apiKey, "", 200, &after)
	if after.Channels == nil || *after.Channels != "" {
		t.Errorf("channels after the channel was deleted: %v", after.Channels)
	}
}

// An Opsgenie heartbeat alerts the project's opsgenie channels with its own alert
// message, tags and priority; a Better Uptime heartbeat with email on (the
// default) mails the project's email channels, and one with email off does not.
func TestAlertsDialectRouting(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	mb := newMailbox(t)
	s := start(t, "", "--notify-max-backoff", "1s")
	host, port, _ := net.SplitHostPort(mb.addr)
	og := s.addChannel("og", "opsgenie", fmt.Sprintf(`{"url": %q, "api_key": "k"}`, rc.srv.URL+"/og"))
	s.addChannel("mail", "email", fmt.Sprintf(
		`{"host": %q, "port": %s, "tls": "none", "from": "v@example.com", "to": ["oncall@example.com"]}`, host, port))

	s.og("POST", "/v2/heartbeats", apiKey, `{"name": "db-backup", "interval": 1, "intervalUnit": "minutes",
		"enabled": true, "alertMessage": "DB backup missed", "alertTags": ["db", "nightly"], "alertPriority": "P1"}`, 201)
	var list struct {
		Checks []check `json:"checks"`
	}
	s.api("GET", "/api/v3/checks/", apiKey, "", 200, &list)
	if len(list.Checks) != 1 {
		t.Fatalf("checks: %+v", list.Checks)
	}
	ogCheck := list.Checks[0].UUID
	// Shortened through Healthchecks.io's API: the same check, so seconds not hours.
	s.api("POST", "/api/v3/checks/"+ogCheck, apiKey, `{"timeout": 1, "grace": 1}`, 200, nil)

	var on, off struct{ Data buResource }
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "reports", "period": 1, "grace": 1}`, 201, &on)
	s.bu("POST", "/api/v2/heartbeats", apiKey, `{"name": "quiet", "period": 1, "grace": 1, "email": false}`, 201, &off)
	for _, u := range []string{on.Data.Attributes.URL, off.Data.Attributes.URL} {
		if code, body := s.buPing("GET", u, ""); code != 200 {
			t.Fatalf("ping %s: %d %s", u, code, body)
		}
	}
	s.ping("/ping/" + ogCheck)

	alert := rc.wait("/og", 1, 15*time.Second)[0]
	if alert.Body["message"] != "DB backup missed" || alert.Body["priority"] != "P1" ||
		fmt.Sprint(alert.Body["tags"]) != "[db nightly]" || alert.Body["alias"] != ogCheck {
		t.Errorf("opsgenie alert for an Opsgenie heartbeat: %v", alert.Body)
	}
	m := mb.wait(t, 1, 15*time.Second)[0]
	if !strings.Contains(m.Data, "reports") || m.To[0] != "oncall@example.com" {
		t.Errorf("email for a Better Uptime heartbeat: %+v", m)
	}
	// Every check is down; the quiet one and the Opsgenie one sent no mail, and the
	// Better Uptime ones did not go to Opsgenie.
	s.waitNotified(hcUUID(t, on.Data.Attributes.URL), "delivered", 1, 10*time.Second)
	if n := s.notifications(hcUUID(t, off.Data.Attributes.URL)); len(n) != 0 {
		t.Errorf("email off, yet notified: %+v", n)
	}
	for _, n := range s.waitNotified(ogCheck, "delivered", 1, 10*time.Second) {
		if n.Channel != og {
			t.Errorf("Opsgenie heartbeat notified channel %s", n.Channel)
		}
	}
	if got := mb.wait(t, 1, time.Second); len(got) != 1 {
		t.Errorf("%d mails, want 1", len(got))
	}
}
