package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// End-to-end tests of the Better Uptime Monitors API (/api/v2/monitors): real
// servers of every protocol on loopback, stopped and started again, and the
// monitor's status followed through the API.

const (
	// Every cycling monitor checks each second and must see a failure (or a
	// success after an outage) for 2 s before it changes its verdict.
	monFreq = time.Second
	monCP   = 2 * time.Second
	monRP   = 2 * time.Second
	// monSlack is the 100 ms tick plus polling, API and probe latency on two
	// shared cores.
	monSlack = 1500 * time.Millisecond
	// monPoll is how often statuses are polled.
	monPoll = 20 * time.Millisecond
)

type monHeader struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type monAttrs struct {
	URL                 string      `json:"url"`
	PronounceableName   string      `json:"pronounceable_name"`
	MonitorType         string      `json:"monitor_type"`
	Status              string      `json:"status"`
	LastCheckedAt       *string     `json:"last_checked_at"`
	Paused              bool        `json:"paused"`
	PausedAt            *string     `json:"paused_at"`
	Port                *string     `json:"port"`
	RequiredKeyword     *string     `json:"required_keyword"`
	CheckFrequency      int         `json:"check_frequency"`
	ConfirmationPeriod  int         `json:"confirmation_period"`
	RecoveryPeriod      int         `json:"recovery_period"`
	RequestHeaders      []monHeader `json:"request_headers"`
	ExpectedStatusCodes []int       `json:"expected_status_codes"`
	MaintenanceFrom     *string     `json:"maintenance_from"`
	MaintenanceTo       *string     `json:"maintenance_to"`
	CreatedAt           string      `json:"created_at"`
	UpdatedAt           string      `json:"updated_at"`
}

type monResource struct {
	ID         string   `json:"id"`
	Type       string   `json:"type"`
	Attributes monAttrs `json:"attributes"`
}

type monList struct {
	Data       []monResource `json:"data"`
	Pagination struct {
		First string  `json:"first"`
		Last  string  `json:"last"`
		Prev  *string `json:"prev"`
		Next  *string `json:"next"`
	} `json:"pagination"`
}

// checked is last_checked_at, zero when null.
func (m monResource) checked(t *testing.T) time.Time {
	t.Helper()
	if m.Attributes.LastCheckedAt == nil {
		return time.Time{}
	}
	tm, err := time.Parse(time.RFC3339Nano, *m.Attributes.LastCheckedAt)
	if err != nil {
		t.Fatalf("last_checked_at %q: %v", *m.Attributes.LastCheckedAt, err)
	}
	return tm
}

// monCall calls the Monitors API with "Bearer <key>", fails t on another status
// than want and decodes the answer into out. It takes t so parallel subtests
// sharing one server fail themselves.
func monCall(t *testing.T, s *server, method, path, key, body string, want int, out any) []byte {
	t.Helper()
	auth := ""
	if key != "" {
		auth = "Bearer " + key
	}
	code, _, b := dialectCall(t, method, s.url+path, auth, body)
	if code != want {
		t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return b
}

func monCreate(t *testing.T, s *server, body string) monResource {
	t.Helper()
	var r struct{ Data monResource }
	monCall(t, s, "POST", "/api/v2/monitors", apiKey, body, 201, &r)
	if r.Data.ID == "" || r.Data.Type != "monitor" {
		t.Fatalf("created monitor without id or type: %+v", r.Data)
	}
	return r.Data
}

func monGet(t *testing.T, s *server, id string) monResource {
	t.Helper()
	var r struct{ Data monResource }
	monCall(t, s, "GET", "/api/v2/monitors/"+id, apiKey, "", 200, &r)
	return r.Data
}

func monPatch(t *testing.T, s *server, id, body string) monResource {
	t.Helper()
	var r struct{ Data monResource }
	monCall(t, s, "PATCH", "/api/v2/monitors/"+id, apiKey, body, 200, &r)
	return r.Data
}

// monWait polls the monitor until its status is want, failing after limit.
func monWait(t *testing.T, s *server, id, want string, limit time.Duration) monResource {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m := monGet(t, s, id)
		if m.Attributes.Status == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("monitor %s (%s %s): status %q, still not %q after %v", id, m.Attributes.MonitorType,
				m.Attributes.URL, m.Attributes.Status, want, limit)
		}
		time.Sleep(monPoll)
	}
}

// monBody is a create request checking every monFreq with monCP and monRP,
// plus the given attributes (JSON members without braces).
func monBody(members string) string {
	return fmt.Sprintf(`{"check_frequency": %d, "confirmation_period": %d, "recovery_period": %d, "request_timeout": 2, %s}`,
		int(monFreq/time.Second), int(monCP/time.Second), int(monRP/time.Second), members)
}

// monCycle follows a monitor through an outage: up; stop() makes it down, no
// sooner than confirmation_period after its first failing probe and within a
// period, that confirmation and slack of the stop; start() brings it through
// validating and up, no sooner than recovery_period after its first
// successful probe and within a period, that recovery and slack of the start.
// extra is added to the upper bounds (a probe that ends only at its timeout).
//
// The first failing probe is bounded from below by the first last_checked_at
// newer than the one seen before stop(): every probe started before that one
// passed. Likewise for the first success after start().
func monCycle(t *testing.T, s *server, id string, cp, rp, extra time.Duration, stop, start func()) {
	t.Helper()
	m := monWait(t, s, id, "up", monFreq+extra+15*time.Second)
	before := m.checked(t)
	if before.IsZero() {
		t.Fatalf("monitor %s is up but was never checked: %+v", id, m.Attributes)
	}
	stopAt := time.Now()
	stop()
	var first time.Time
	var trace []string
	defer func() {
		if t.Failed() {
			t.Logf("monitor %s after its server stopped (at, since stop, status, last_checked_at): %v", id, trace)
		}
	}()
	for {
		m = monGet(t, s, id)
		if e := m.Attributes.Status + " " + m.checked(t).Format("05.000"); len(trace) == 0 || !strings.HasSuffix(trace[len(trace)-1], e) {
			trace = append(trace, fmt.Sprintf("%s %v %s", time.Now().Format("05.000"), time.Since(stopAt).Round(time.Millisecond), e))
		}
		now := time.Now()
		if lc := m.checked(t); first.IsZero() && lc.After(before) {
			first = lc
		}
		st := m.Attributes.Status
		if st == "down" {
			if first.IsZero() || now.Before(first.Add(cp)) {
				t.Errorf("monitor %s down at %s, before confirmation_period %v after the first failing probe (at or after %s)",
					id, now.Format(time.StampMilli), cp, first.Format(time.StampMilli))
			}
			if limit := stopAt.Add(monFreq + cp + extra + monSlack); now.After(limit) {
				t.Errorf("monitor %s down only %v after its server stopped; want within %v", id, now.Sub(stopAt), limit.Sub(stopAt))
			}
			break
		}
		if st != "up" {
			t.Fatalf("monitor %s: status %q while its server is down and the failure unconfirmed", id, st)
		}
		if time.Since(stopAt) > monFreq+cp+extra+15*time.Second {
			t.Fatalf("monitor %s: still %q %v after its server stopped", id, st, time.Since(stopAt))
		}
		time.Sleep(monPoll)
	}

	before = m.checked(t)
	startAt := time.Now()
	start()
	first = time.Time{}
	validating := false
	for {
		m = monGet(t, s, id)
		now := time.Now()
		if lc := m.checked(t); first.IsZero() && lc.After(before) {
			first = lc
		}
		switch st := m.Attributes.Status; st {
		case "down":
		case "validating":
			validating = true
		case "up":
			if rp > 0 && !validating {
				t.Errorf("monitor %s went from down to up without validating", id)
			}
			if first.IsZero() || now.Before(first.Add(rp)) {
				t.Errorf("monitor %s up at %s, before recovery_period %v after the first successful probe (at or after %s)",
					id, now.Format(time.StampMilli), rp, first.Format(time.StampMilli))
			}
			if limit := startAt.Add(monFreq + rp + extra + monSlack); now.After(limit) {
				t.Errorf("monitor %s up only %v after its server came back; want within %v", id, now.Sub(startAt), limit.Sub(startAt))
			}
			return
		default:
			t.Fatalf("monitor %s: status %q while recovering", id, st)
		}
		if time.Since(startAt) > monFreq+rp+extra+15*time.Second {
			t.Fatalf("monitor %s: still %q %v after its server came back", id, m.Attributes.Status, time.Since(startAt))
		}
		time.Sleep(monPoll)
	}
}

// monGroup runs subtests at the same time without t.Parallel, so that a group
// of mostly idle, waiting subtests takes one of the -parallel slots (two on
// two cores), not one each.
type monGroup struct {
	t  *testing.T
	wg sync.WaitGroup
}

func (g *monGroup) run(name string, f func(t *testing.T)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.t.Run(name, f)
	}()
}

// wait must be called before the test function returns.
func (g *monGroup) wait() { g.wg.Wait() }

// monJSON quotes s as a JSON string.
func monJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type monSLA struct {
	Data struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			Availability      float64 `json:"availability"`
			TotalDowntime     int64   `json:"total_downtime"`
			NumberOfIncidents int     `json:"number_of_incidents"`
			LongestIncident   int64   `json:"longest_incident"`
			AverageIncident   int64   `json:"average_incident"`
		} `json:"attributes"`
	} `json:"data"`
}

type monResponseTimes struct {
	Data struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			Regions []struct {
				Region        string `json:"region"`
				ResponseTimes []struct {
					At           string   `json:"at"`
					ResponseTime *float64 `json:"response_time"`
				} `json:"response_times"`
			} `json:"regions"`
		} `json:"attributes"`
	} `json:"data"`
}

// TestMonitorHTTP runs the HTTP monitor types through an outage each, and
// checks what each of them refuses.
func TestMonitorHTTP(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	g := &monGroup{t: t}
	defer g.wait()

	page := func(body string, code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			io.WriteString(w, body)
		})
	}
	type tc struct {
		name    string
		handler http.Handler
		tls     bool
		path    string
		members string
	}
	cycles := []tc{
		{"status", page("hello", 200), false, "/", `"monitor_type": "status"`},
		{"expected_status_code", page("short and stout", 418), false, "/", `"monitor_type": "expected_status_code", "expected_status_codes": [418]`},
		{"keyword", page("all systems operational", 200), false, "/", `"monitor_type": "keyword", "required_keyword": "operational"`},
		{"keyword_absence", page("all systems operational", 200), false, "/", `"monitor_type": "keyword_absence", "required_keyword": "outage"`},
		{"tls", page("secure", 200), true, "/", `"monitor_type": "status", "verify_ssl": false`},
		{"redirects", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/a":
				http.Redirect(w, r, "/b", http.StatusFound)
			case "/b":
				http.Redirect(w, r, "/c", http.StatusMovedPermanently)
			case "/c":
				io.WriteString(w, "arrived")
			default:
				http.NotFound(w, r)
			}
		}), false, "/a", `"monitor_type": "keyword", "required_keyword": "arrived", "follow_redirects": true`},
	}
	for _, c := range cycles {
		g.run(c.name, func(t *testing.T) {
			var cfg *tls.Config
			if c.tls {
				cfg = monCert(t, time.Now().Add(90*24*time.Hour))
			}
			srv := monHTTPServer(t, c.handler, cfg)
			m := monCreate(t, s, monBody(`"url": `+monJSON(srv.url(c.path, c.tls))+`, `+c.members))
			if m.Attributes.Status != "pending" {
				t.Errorf("new monitor: status %q, want pending", m.Attributes.Status)
			}
			monCycle(t, s, m.ID, monCP, monRP, 0, srv.stop, srv.start)
			if c.name != "status" {
				return
			}
			// The outage is in the SLA, and the probes in the response times.
			var sla monSLA
			monCall(t, s, "GET", "/api/v2/monitors/"+m.ID+"/sla", apiKey, "", 200, &sla)
			a := sla.Data.Attributes
			if sla.Data.ID != m.ID || sla.Data.Type != "monitor_sla" || a.NumberOfIncidents < 1 || a.TotalDowntime <= 0 ||
				a.Availability >= 100 || a.Availability <= 0 || a.LongestIncident <= 0 || a.LongestIncident > a.TotalDowntime {
				t.Errorf("SLA after an outage: %+v", sla.Data)
			}
			today := time.Now().UTC().Format("2006-01-02")
			monCall(t, s, "GET", "/api/v2/monitors/"+m.ID+"/sla?from="+today+"&to="+today, apiKey, "", 200, &sla)
			if sla.Data.Attributes.NumberOfIncidents < 1 {
				t.Errorf("SLA for today: %+v", sla.Data)
			}
			tomorrow := time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02")
			yesterday := time.Now().UTC().Add(-48 * time.Hour).Format("2006-01-02")
			// The day before from, exactly: the whole of it ends where from begins.
			dayBefore := time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02")
			for _, q := range []string{"from=" + tomorrow, "from=" + today + "&to=" + yesterday,
				"from=" + today + "&to=" + dayBefore, "from=yesterday", "to=2021-13-01"} {
				var e struct{ Errors string }
				monCall(t, s, "GET", "/api/v2/monitors/"+m.ID+"/sla?"+q, apiKey, "", 400, &e)
				if e.Errors == "" {
					t.Errorf("sla?%s: 400 without an error message", q)
				}
			}
			var rt monResponseTimes
			monCall(t, s, "GET", "/api/v2/monitors/"+m.ID+"/response-times", apiKey, "", 200, &rt)
			if rt.Data.ID != m.ID || rt.Data.Type != "monitor_response_times" || len(rt.Data.Attributes.Regions) != 1 ||
				rt.Data.Attributes.Regions[0].Region != "us" || len(rt.Data.Attributes.Regions[0].ResponseTimes) < 3 {
				t.Fatalf("response times: %+v", rt.Data)
			}
			for _, p := range rt.Data.Attributes.Regions[0].ResponseTimes {
				at, err := time.Parse(time.RFC3339Nano, p.At)
				if err != nil || at.Before(time.Now().Add(-time.Minute)) || at.After(time.Now()) || p.ResponseTime == nil || *p.ResponseTime < 0 {
					t.Errorf("response time %+v", p)
				}
			}
		})
	}

	// What each type refuses goes down (confirmation 0: at the first probe).
	g.run("refusals", func(t *testing.T) {
		rg := &monGroup{t: t}
		defer rg.wait()
		ok := monHTTPServer(t, page("all systems operational", 200), nil)
		teapot := monHTTPServer(t, page("teapot", 418), nil)
		redirect := monHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/a" {
				http.Redirect(w, r, "/b", http.StatusFound)
				return
			}
			io.WriteString(w, "arrived")
		}), nil)
		hung := monHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), nil)
		selfSigned := monHTTPServer(t, page("secure", 200), monCert(t, time.Now().Add(90*24*time.Hour)))
		expiring := monHTTPServer(t, page("secure", 200), monCert(t, time.Now().Add(2*24*time.Hour)))
		quick := func(members string) string {
			return `{"check_frequency": 1, "confirmation_period": 0, "recovery_period": 0, "request_timeout": 2, ` + members + `}`
		}
		for _, c := range []struct {
			name, body, want string
		}{
			{"status 418", quick(`"monitor_type": "status", "url": ` + monJSON(teapot.url("/", false))), "down"},
			{"expected 418 got 200", quick(`"monitor_type": "expected_status_code", "expected_status_codes": [418], "url": ` + monJSON(ok.url("/", false))), "down"},
			{"expected 200 got 418", quick(`"monitor_type": "expected_status_code", "expected_status_codes": [200, 204], "url": ` + monJSON(teapot.url("/", false))), "down"},
			{"keyword missing", quick(`"monitor_type": "keyword", "required_keyword": "outage", "url": ` + monJSON(ok.url("/", false))), "down"},
			{"keyword on an error page", quick(`"monitor_type": "keyword", "required_keyword": "teapot", "url": ` + monJSON(teapot.url("/", false))), "down"},
			{"keyword_absence present", quick(`"monitor_type": "keyword_absence", "required_keyword": "operational", "url": ` + monJSON(ok.url("/", false))), "down"},
			{"redirect not followed", quick(`"monitor_type": "keyword", "required_keyword": "arrived", "follow_redirects": false, "url": ` + monJSON(redirect.url("/a", false))), "down"},
			{"redirect followed", quick(`"monitor_type": "keyword", "required_keyword": "arrived", "follow_redirects": true, "url": ` + monJSON(redirect.url("/a", false))), "up"},
			{"no answer within request_timeout", quick(`"monitor_type": "status", "url": ` + monJSON(hung.url("/", false))), "down"},
			{"self-signed verified", quick(`"monitor_type": "status", "verify_ssl": true, "url": ` + monJSON(selfSigned.url("/", true))), "down"},
			{"ssl expiring within 7 days", quick(`"monitor_type": "status", "verify_ssl": false, "ssl_expiration": 7, "url": ` + monJSON(expiring.url("/", true))), "down"},
			{"ssl expiring after 1 day", quick(`"monitor_type": "status", "verify_ssl": false, "ssl_expiration": 1, "url": ` + monJSON(expiring.url("/", true))), "up"},
		} {
			m := monCreate(t, s, c.body)
			rg.run(c.name, func(t *testing.T) {
				got := monWait(t, s, m.ID, c.want, monFreq+5*time.Second)
				if got.checked(t).IsZero() {
					t.Errorf("%s without a check: %+v", c.want, got.Attributes)
				}
			})
		}
	})

	// The expiring certificate is the cause: the same server is up once
	// ssl_expiration no longer reaches its expiry.
	g.run("ssl_expiration", func(t *testing.T) {
		srv := monHTTPServer(t, page("secure", 200), monCert(t, time.Now().Add(2*24*time.Hour)))
		m := monCreate(t, s, `{"check_frequency": 1, "confirmation_period": 0, "recovery_period": 0, "verify_ssl": false,
			"monitor_type": "status", "ssl_expiration": 7, "url": `+monJSON(srv.url("/", true))+`}`)
		monWait(t, s, m.ID, "down", monFreq+5*time.Second)
		monPatch(t, s, m.ID, `{"ssl_expiration": null}`)
		monWait(t, s, m.ID, "up", monFreq+5*time.Second)
		monPatch(t, s, m.ID, `{"ssl_expiration": 3}`)
		monWait(t, s, m.ID, "down", monFreq+5*time.Second)
	})
}

// TestMonitorNetwork runs tcp, udp and ping monitors through an outage each.
func TestMonitorNetwork(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	g := &monGroup{t: t}
	defer g.wait()

	g.run("tcp", func(t *testing.T) {
		srv := monTCPServer(t)
		m := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "port": `+monJSON(srv.port())))
		monCycle(t, s, m.ID, monCP, monRP, 0, srv.stop, srv.start)
	})
	g.run("udp", func(t *testing.T) {
		srv := monUDPServer(t, "PONG from the e2e echo")
		m := monCreate(t, s, monBody(`"monitor_type": "udp", "url": "127.0.0.1", "required_keyword": "PONG", "port": `+monJSON(srv.port())))
		// A closed UDP port answers with ICMP port unreachable; a silent one
		// fails only at the request timeout (2 s).
		monCycle(t, s, m.ID, monCP, monRP, 2*time.Second, srv.stop, srv.start)
		// A reply without the keyword is down.
		wrong := monUDPServer(t, "something else")
		w := monCreate(t, s, `{"check_frequency": 1, "confirmation_period": 0, "monitor_type": "udp", "url": "127.0.0.1",
			"required_keyword": "PONG", "request_timeout": 2, "port": `+monJSON(wrong.port())+`}`)
		monWait(t, s, w.ID, "down", monFreq+5*time.Second)
	})
	// A new monitor whose target is down confirms the failure too.
	g.run("pending confirms", func(t *testing.T) {
		srv := monTCPServer(t)
		srv.stop()
		m := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "port": `+monJSON(srv.port())))
		created := time.Now()
		var first time.Time
		for {
			got := monGet(t, s, m.ID)
			if lc := got.checked(t); first.IsZero() && !lc.IsZero() {
				first = lc
			}
			if st := got.Attributes.Status; st == "down" {
				if first.IsZero() || time.Now().Before(first.Add(monCP)) {
					t.Errorf("down at %s, before confirmation_period %v after the first check at %s",
						time.Now().Format(time.StampMilli), monCP, first.Format(time.StampMilli))
				}
				if d := time.Since(created); d > monFreq+monCP+monSlack {
					t.Errorf("down only %v after creation", d)
				}
				return
			} else if st != "pending" || time.Since(created) > monFreq+monCP+10*time.Second {
				t.Fatalf("new monitor of a closed port: status %q after %v", st, time.Since(created))
			}
			time.Sleep(monPoll)
		}
	})
	g.run("ping", func(t *testing.T) {
		m := monCreate(t, s, monBody(`"monitor_type": "ping", "url": "127.0.0.1"`))
		// 203.0.113.1 (TEST-NET-3) never answers: each probe fails at the
		// request timeout (2 s), which the bounds allow for.
		monCycle(t, s, m.ID, monCP, monRP, 2*time.Second,
			func() { monPatch(t, s, m.ID, `{"url": "203.0.113.1"}`) },
			func() { monPatch(t, s, m.ID, `{"url": "127.0.0.1"}`) })
	})
}

// TestMonitorMail runs smtp, pop and imap monitors through an outage each, with
// the servers on their protocols' ports of a loopback address.
func TestMonitorMail(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	g := &monGroup{t: t}
	defer g.wait()
	for _, c := range []struct {
		kind  string
		port  int
		serve func(*testing.T, string) *monService
	}{
		{"smtp", 587, monSMTPServer},
		{"pop", 110, monPOPServer},
		{"imap", 143, monIMAPServer},
	} {
		g.run(c.kind, func(t *testing.T) {
			srv := c.serve(t, monMailAddr(t, c.port))
			m := monCreate(t, s, monBody(`"monitor_type": `+monJSON(c.kind)+`, "url": `+monJSON(srv.host())+
				`, "port": `+monJSON(srv.port())))
			if m.Attributes.Port == nil || *m.Attributes.Port != strconv.Itoa(c.port) {
				t.Errorf("port %v, want %d", m.Attributes.Port, c.port)
			}
			monCycle(t, s, m.ID, monCP, monRP, 0, srv.stop, srv.start)
		})
	}
	// The certificate a mail server presents after STARTTLS counts for
	// ssl_expiration as an HTTPS server's does.
	g.run("smtp starttls ssl_expiration", func(t *testing.T) {
		srv := monSMTPTLSServer(t, monMailAddr(t, 25), monCert(t, time.Now().Add(2*24*time.Hour)))
		m := monCreate(t, s, `{"monitor_type": "smtp", "check_frequency": 1, "confirmation_period": 0, "recovery_period": 0,
			"verify_ssl": false, "ssl_expiration": 7, "url": `+monJSON(srv.host())+`, "port": "25"}`)
		monWait(t, s, m.ID, "down", monFreq+5*time.Second)
		monPatch(t, s, m.ID, `{"ssl_expiration": 1}`)
		monWait(t, s, m.ID, "up", monFreq+5*time.Second)
	})
}

// TestMonitorAPI checks the API's answers: validation, access, 404s, filters
// and pages, request headers, pause and resume, delete.
func TestMonitorAPI(t *testing.T) {
	t.Parallel()
	s := start(t, "")

	// 422 in Better Uptime's shape: {"errors": {"field": ["problem"]}}.
	for _, c := range []struct{ body, field string }{
		{`{"monitor_type": "tcp", "url": "127.0.0.1"}`, "port"},
		{`{"monitor_type": "udp", "url": "127.0.0.1", "required_keyword": "x"}`, "port"},
		{`{"monitor_type": "tcp", "url": "127.0.0.1", "port": "70000"}`, "port"},
		{`{"monitor_type": "smtp", "url": "127.0.0.1", "port": "2525"}`, "port"},
		{`{"monitor_type": "smtp", "url": "127.0.0.1"}`, "port"},
		{`{"monitor_type": "pop", "url": "127.0.0.1", "port": "143"}`, "port"},
		{`{"monitor_type": "imap", "url": "127.0.0.1", "port": "110"}`, "port"},
		{`{"monitor_type": "keyword", "url": "http://127.0.0.1/"}`, "required_keyword"},
		{`{"monitor_type": "keyword_absence", "url": "http://127.0.0.1/"}`, "required_keyword"},
		{`{"monitor_type": "udp", "url": "127.0.0.1", "port": "53"}`, "required_keyword"},
		{`{"monitor_type": "expected_status_code", "url": "http://127.0.0.1/"}`, "expected_status_codes"},
		{`{"monitor_type": "status"}`, "url"},
		{`{"monitor_type": "status", "url": "not a url"}`, "base"},
		{`{"monitor_type": "telepathy", "url": "http://127.0.0.1/"}`, "monitor_type"},
		{`{"monitor_type": "status", "url": "http://127.0.0.1/", "check_frequency": 0}`, "check_frequency"},
		{`{"monitor_type": "status", "url": "http://127.0.0.1/", "ssl_expiration": 5}`, "ssl_expiration"},
		{`{"monitor_type": "status", "url": "http://127.0.0.1/", "maintenance_from": "25:00:00", "maintenance_to": "01:00:00"}`, "maintenance_from"},
		{`{"monitor_type": "status", "url": "http://127.0.0.1/", "maintenance_from": "01:00:00"}`, "maintenance_to"},
	} {
		var e struct{ Errors map[string][]string }
		monCall(t, s, "POST", "/api/v2/monitors", apiKey, c.body, 422, &e)
		if len(e.Errors[c.field]) == 0 || e.Errors[c.field][0] == "" {
			t.Errorf("%s: errors %v do not name %s", c.body, e.Errors, c.field)
		}
	}
	var base struct{ Errors map[string][]string }
	monCall(t, s, "POST", "/api/v2/monitors", apiKey, `{"monitor_type": "status", "url": "ftp://example.com"}`, 422, &base)
	if fmt.Sprint(base.Errors["base"]) != "[URL is invalid.]" {
		t.Errorf("invalid URL: %v, want the seed's base error", base.Errors)
	}

	// No probe of these may succeed or matter: nothing listens on port 9 of
	// 127.0.0.1, and they check every 60 s.
	mk := func(url, name string) monResource {
		return monCreate(t, s, `{"monitor_type": "status", "check_frequency": 60, "url": `+monJSON(url)+
			`, "pronounceable_name": `+monJSON(name)+`}`)
	}
	a := mk("http://127.0.0.1:9/a", "Alpha")
	b := mk("http://127.0.0.1:9/b", "Bravo")
	c := mk("http://127.0.0.1:9/a", "Charlie")
	d := mk("http://127.0.0.1:9/d", "Alpha")
	e := mk("http://127.0.0.1:9/e", "Echo")
	all := []string{a.ID, b.ID, c.ID, d.ID, e.ID}

	// 404 for unknown ids, on every route.
	type message struct{ Errors string }
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v2/monitors/999999999"}, {"GET", "/api/v2/monitors/abc"},
		{"PATCH", "/api/v2/monitors/999999999"}, {"DELETE", "/api/v2/monitors/999999999"},
		{"GET", "/api/v2/monitors/999999999/sla"}, {"GET", "/api/v2/monitors/999999999/response-times"},
	} {
		var m message
		monCall(t, s, r.method, r.path, apiKey, `{"pronounceable_name": "x"}`, 404, &m)
		if m.Errors != "Resource with provided ID was not found" {
			t.Errorf("%s %s: %+v", r.method, r.path, m)
		}
	}

	// Access: none without a key, read-only may read.
	for _, auth := range []string{"", "Bearer wrong", "GenieKey " + apiKey} {
		if code, _, body := dialectCall(t, "GET", s.url+"/api/v2/monitors", auth, ""); code != 401 {
			t.Errorf("auth %q: %d %s", auth, code, body)
		}
	}
	monCall(t, s, "GET", "/api/v2/monitors", roKey, "", 200, nil)
	monCall(t, s, "GET", "/api/v2/monitors/"+a.ID, roKey, "", 200, nil)
	monCall(t, s, "GET", "/api/v2/monitors/"+a.ID+"/sla", roKey, "", 200, nil)
	monCall(t, s, "GET", "/api/v2/monitors/"+a.ID+"/response-times", roKey, "", 200, nil)
	monCall(t, s, "POST", "/api/v2/monitors", roKey, `{"monitor_type": "status", "url": "http://127.0.0.1:9/"}`, 403, nil)
	monCall(t, s, "PATCH", "/api/v2/monitors/"+a.ID, roKey, `{"pronounceable_name": "ro"}`, 403, nil)
	monCall(t, s, "DELETE", "/api/v2/monitors/"+a.ID, roKey, "", 403, nil)
	if got := monGet(t, s, a.ID); got.Attributes.PronounceableName != "Alpha" {
		t.Errorf("read-only PATCH changed the monitor: %+v", got.Attributes)
	}

	// Filters, each exact.
	ids := func(l monList) string {
		var out []string
		for _, r := range l.Data {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	var l monList
	monCall(t, s, "GET", "/api/v2/monitors", apiKey, "", 200, &l)
	if ids(l) != strings.Join(all, ",") {
		t.Errorf("list: %s, want %v oldest first", ids(l), all)
	}
	monCall(t, s, "GET", "/api/v2/monitors?url=http://127.0.0.1:9/a", apiKey, "", 200, &l)
	if ids(l) != a.ID+","+c.ID {
		t.Errorf("url filter: %s, want %s,%s", ids(l), a.ID, c.ID)
	}
	monCall(t, s, "GET", "/api/v2/monitors?pronounceable_name=Alpha", apiKey, "", 200, &l)
	if ids(l) != a.ID+","+d.ID {
		t.Errorf("name filter: %s, want %s,%s", ids(l), a.ID, d.ID)
	}
	monCall(t, s, "GET", "/api/v2/monitors?pronounceable_name=Alpha&url=http://127.0.0.1:9/d", apiKey, "", 200, &l)
	if ids(l) != d.ID {
		t.Errorf("both filters: %s, want %s", ids(l), d.ID)
	}
	monCall(t, s, "GET", "/api/v2/monitors?pronounceable_name=alpha", apiKey, "", 200, &l)
	if len(l.Data) != 0 || l.Data == nil {
		t.Errorf("name filter matching nothing: %+v", l)
	}
	// Pages of two: 2, 2, 1.
	list := s.url + "/api/v2/monitors"
	var seen []string
	next := list + "?per_page=2&page=1"
	for page := 1; page <= 3; page++ {
		var l monList
		monCall(t, s, "GET", strings.TrimPrefix(next, s.url), apiKey, "", 200, &l)
		if !strings.HasPrefix(l.Pagination.First, list+"?") || !strings.Contains(l.Pagination.Last, "page=3") ||
			(page == 1) != (l.Pagination.Prev == nil) || (page == 3) != (l.Pagination.Next == nil) {
			t.Fatalf("page %d links: %+v", page, l.Pagination)
		}
		for _, r := range l.Data {
			seen = append(seen, r.ID)
		}
		if l.Pagination.Next != nil {
			next = *l.Pagination.Next
		}
	}
	if strings.Join(seen, ",") != strings.Join(all, ",") {
		t.Errorf("pages gave %v, want %v", seen, all)
	}
	monCall(t, s, "GET", "/api/v2/monitors?per_page=0", apiKey, "", 422, nil)

	// DELETE: 204, then 404 everywhere and gone from the list.
	if body := monCall(t, s, "DELETE", "/api/v2/monitors/"+e.ID, apiKey, "", 204, nil); len(body) != 0 {
		t.Errorf("DELETE answered a body: %s", body)
	}
	monCall(t, s, "GET", "/api/v2/monitors/"+e.ID, apiKey, "", 404, nil)
	monCall(t, s, "PATCH", "/api/v2/monitors/"+e.ID, apiKey, `{"pronounceable_name": "x"}`, 404, nil)
	monCall(t, s, "DELETE", "/api/v2/monitors/"+e.ID, apiKey, "", 404, nil)
	monCall(t, s, "GET", "/api/v2/monitors/"+e.ID+"/sla", apiKey, "", 404, nil)
	monCall(t, s, "GET", "/api/v2/monitors?pronounceable_name=Echo", apiKey, "", 200, &l)
	if len(l.Data) != 0 {
		t.Errorf("deleted monitor still listed: %+v", l.Data)
	}

	// A refused PATCH changes nothing.
	monCall(t, s, "PATCH", "/api/v2/monitors/"+b.ID, apiKey, `{"pronounceable_name": "changed", "monitor_type": "tcp"}`, 422, nil)
	if got := monGet(t, s, b.ID); got.Attributes.PronounceableName != "Bravo" || got.Attributes.MonitorType != "status" ||
		got.Attributes.UpdatedAt != b.Attributes.UpdatedAt {
		t.Errorf("refused PATCH changed the monitor: %+v", got.Attributes)
	}
	// A PATCH changes only what it names, and updated_at.
	time.Sleep(5 * time.Millisecond)
	got := monPatch(t, s, b.ID, `{"check_frequency": 120}`)
	if got.Attributes.CheckFrequency != 120 || got.Attributes.PronounceableName != "Bravo" || got.Attributes.URL != b.Attributes.URL ||
		got.Attributes.CreatedAt != b.Attributes.CreatedAt || got.Attributes.UpdatedAt <= b.Attributes.UpdatedAt {
		t.Errorf("PATCH check_frequency: %+v, was %+v", got.Attributes, b.Attributes)
	}

	// Another project's key sees none of these monitors.
	var other keys
	s.admin("POST", "/admin/v1/projects", `{"name": "other"}`, 201, &other)
	monCall(t, s, "GET", "/api/v2/monitors", other.APIKey, "", 200, &l)
	if len(l.Data) != 0 {
		t.Errorf("another project lists %d monitors", len(l.Data))
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v2/monitors/" + b.ID}, {"PATCH", "/api/v2/monitors/" + b.ID}, {"DELETE", "/api/v2/monitors/" + b.ID},
		{"GET", "/api/v2/monitors/" + b.ID + "/sla"}, {"GET", "/api/v2/monitors/" + b.ID + "/response-times"},
	} {
		monCall(t, s, r.method, r.path, other.APIKey, `{"pronounceable_name": "x"}`, 404, nil)
	}
	if got := monGet(t, s, b.ID); got.Attributes.PronounceableName != "Bravo" {
		t.Errorf("another project's PATCH changed the monitor: %+v", got.Attributes)
	}
}

// TestMonitorRequestHeadersAndPause round-trips request_headers through PATCH
// (add, update, _destroy) and sees them arrive at the target, then pauses
// and resumes the monitor.
func TestMonitorRequestHeadersAndPause(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var mu sync.Mutex
	var lastHeaders http.Header
	var lastMethod, lastBody, lastUser, lastPass string
	var hits atomic.Int64
	srv := monHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		mu.Lock()
		lastHeaders = r.Header.Clone()
		lastMethod, lastBody, lastUser, lastPass = r.Method, string(b), user, pass
		mu.Unlock()
		hits.Add(1)
		io.WriteString(w, "ok")
	}), nil)
	m := monCreate(t, s, `{"monitor_type": "status", "check_frequency": 1, "url": `+monJSON(srv.url("/", false))+`,
		"request_headers": [{"name": "X-Alpha", "value": "one"}, {"name": "X-Bravo", "value": "two"}]}`)
	hs := m.Attributes.RequestHeaders
	if len(hs) != 2 || hs[0].Name != "X-Alpha" || hs[0].Value != "one" || hs[1].Name != "X-Bravo" || hs[1].Value != "two" ||
		hs[0].ID == "" || hs[1].ID == "" || hs[0].ID == hs[1].ID {
		t.Fatalf("created headers: %+v", hs)
	}
	alpha, bravo := hs[0].ID, hs[1].ID
	// waitHeaders waits for a probe carrying exactly want among X- headers.
	waitHeaders := func(want map[string]string) {
		t.Helper()
		deadline := time.Now().Add(monFreq + 10*time.Second)
		for {
			mu.Lock()
			h := lastHeaders
			mu.Unlock()
			ok := h != nil
			for _, k := range []string{"X-Alpha", "X-Bravo", "X-Charlie"} {
				if h.Get(k) != want[k] {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the target never saw headers %v; last probe sent %v", want, h)
			}
			time.Sleep(monPoll)
		}
	}
	waitHeaders(map[string]string{"X-Alpha": "one", "X-Bravo": "two"})

	m = monPatch(t, s, m.ID, `{"request_headers": [
		{"id": `+monJSON(alpha)+`, "value": "uno"},
		{"id": `+monJSON(bravo)+`, "_destroy": true},
		{"name": "X-Charlie", "value": "three"}]}`)
	hs = m.Attributes.RequestHeaders
	if len(hs) != 2 || hs[0].ID != alpha || hs[0].Name != "X-Alpha" || hs[0].Value != "uno" ||
		hs[1].Name != "X-Charlie" || hs[1].Value != "three" || hs[1].ID == alpha || hs[1].ID == bravo || hs[1].ID == "" {
		t.Fatalf("patched headers: %+v", hs)
	}
	if got := monGet(t, s, m.ID).Attributes.RequestHeaders; fmt.Sprint(got) != fmt.Sprint(hs) {
		t.Errorf("GET shows headers %+v, PATCH answered %+v", got, hs)
	}
	// A rename by id, and the destroyed id is gone for good.
	m = monPatch(t, s, m.ID, `{"request_headers": [{"id": `+monJSON(alpha)+`, "name": "X-Alpha-Renamed"}]}`)
	if hs := m.Attributes.RequestHeaders; len(hs) != 2 || hs[0].Name != "X-Alpha-Renamed" || hs[0].Value != "uno" {
		t.Fatalf("renamed header: %+v", hs)
	}
	monCall(t, s, "PATCH", "/api/v2/monitors/"+m.ID, apiKey, `{"request_headers": [{"id": `+monJSON(bravo)+`, "value": "x"}]}`, 422, nil)
	m = monPatch(t, s, m.ID, `{"request_headers": [{"id": `+monJSON(alpha)+`, "name": "X-Alpha"}]}`)
	waitHeaders(map[string]string{"X-Alpha": "uno", "X-Charlie": "three"})

	// http_method, request_body and basic auth reach the target too.
	monPatch(t, s, m.ID, `{"http_method": "POST", "request_body": "{\"ping\": 1}", "auth_username": "probe", "auth_password": "s3cret"}`)
	deadline := time.Now().Add(monFreq + 10*time.Second)
	for {
		mu.Lock()
		method, body, user, pass := lastMethod, lastBody, lastUser, lastPass
		mu.Unlock()
		if method == "POST" && body == `{"ping": 1}` && user == "probe" && pass == "s3cret" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target never saw POST with body and basic auth; last probe: %s %q %q:%q", method, body, user, pass)
		}
		time.Sleep(monPoll)
	}
	monPatch(t, s, m.ID, `{"http_method": "get", "request_body": "", "auth_username": "", "auth_password": ""}`)

	// Pause: status paused, paused_at set, and no more probes.
	monWait(t, s, m.ID, "up", monFreq+10*time.Second)
	p := monPatch(t, s, m.ID, `{"paused": true}`)
	if p.Attributes.Status != "paused" || !p.Attributes.Paused || p.Attributes.PausedAt == nil {
		t.Fatalf("paused monitor: %+v", p.Attributes)
	}
	checked := monGet(t, s, m.ID).checked(t)
	n := hits.Load()
	// One probe may have been in flight when the pause came.
	time.Sleep(3 * monFreq)
	got := monGet(t, s, m.ID)
	if got.Attributes.Status != "paused" || !got.checked(t).Equal(checked) || hits.Load() > n+1 {
		t.Errorf("paused for 3 periods: status %q, last_checked_at %v (was %v), %d probes (was %d)",
			got.Attributes.Status, got.checked(t), checked, hits.Load(), n)
	}
	var l monList
	monCall(t, s, "GET", "/api/v2/monitors", apiKey, "", 200, &l)
	if len(l.Data) != 1 || l.Data[0].Attributes.Status != "paused" {
		t.Errorf("list while paused: %+v", l.Data)
	}
	// Resume: probing again, up.
	r := monPatch(t, s, m.ID, `{"paused": false}`)
	if r.Attributes.Paused || r.Attributes.PausedAt != nil || (r.Attributes.Status != "pending" && r.Attributes.Status != "up") {
		t.Fatalf("resumed monitor: %+v", r.Attributes)
	}
	up := monWait(t, s, m.ID, "up", monFreq+10*time.Second)
	if !up.checked(t).After(checked) {
		t.Errorf("resumed and up without a new check: last_checked_at %v, was %v", up.checked(t), checked)
	}
	// Deleted: no more probes.
	monCall(t, s, "DELETE", "/api/v2/monitors/"+m.ID, apiKey, "", 204, nil)
	n = hits.Load()
	time.Sleep(3 * monFreq)
	if extra := hits.Load() - n; extra > 1 {
		t.Errorf("%d probes of a deleted monitor", extra)
	}
	// Created paused: never checked.
	cp := monCreate(t, s, `{"monitor_type": "status", "check_frequency": 1, "paused": true, "url": `+monJSON(srv.url("/", false))+`}`)
	if cp.Attributes.Status != "paused" || !cp.Attributes.Paused {
		t.Fatalf("created paused: %+v", cp.Attributes)
	}
}

// TestMonitorRestart: monitors survive a graceful restart and a kill -9, keep
// their state and keep probing.
func TestMonitorRestart(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	srv := monTCPServer(t)
	up := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "pronounceable_name": "first name", "port": `+monJSON(srv.port())))
	gone := monTCPServer(t)
	down := monCreate(t, s, `{"monitor_type": "tcp", "check_frequency": 1, "confirmation_period": 0, "url": "127.0.0.1", "port": `+monJSON(gone.port())+`}`)
	gone.stop()
	paused := monCreate(t, s, `{"monitor_type": "tcp", "check_frequency": 1, "paused": true, "url": "127.0.0.1", "port": `+monJSON(srv.port())+`}`)
	monWait(t, s, up.ID, "up", monFreq+10*time.Second)
	monWait(t, s, down.ID, "down", monFreq+10*time.Second)

	for _, how := range []string{"SIGTERM", "kill -9"} {
		// The last change, answered just before the kill, is kept.
		monPatch(t, s, up.ID, `{"pronounceable_name": "survivor"}`)
		before := monGet(t, s, up.ID)
		if how == "kill -9" {
			s.kill9()
		} else {
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-s.done:
				if err != nil {
					t.Errorf("exit after SIGTERM: %v\n%s", err, s.out)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no exit within 30 s of SIGTERM\n%s", s.out)
			}
			s.done = nil
		}
		s.restart()
		after := monGet(t, s, up.ID)
		if after.Attributes.PronounceableName != "survivor" || after.Attributes.Port == nil || *after.Attributes.Port != srv.port() ||
			after.Attributes.CreatedAt != before.Attributes.CreatedAt {
			t.Fatalf("after %s: monitor %+v, was %+v", how, after.Attributes, before.Attributes)
		}
		if st := after.Attributes.Status; st != "up" {
			t.Errorf("after %s: status %q, want up as stored", how, st)
		}
		if st := monGet(t, s, down.ID).Attributes.Status; st != "down" {
			t.Errorf("after %s: the down monitor is %q", how, st)
		}
		if p := monGet(t, s, paused.ID); p.Attributes.Status != "paused" || !p.Attributes.Paused || p.Attributes.PausedAt == nil {
			t.Errorf("after %s: the paused monitor is %+v", how, p.Attributes)
		}
		// Probing goes on: last_checked_at moves past the restart.
		restarted := time.Now()
		deadline := restarted.Add(monFreq + 10*time.Second)
		for {
			m := monGet(t, s, up.ID)
			if m.checked(t).After(restarted.Add(-50*time.Millisecond)) && m.Attributes.Status == "up" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: no probe since the restart: %+v", how, m.Attributes)
			}
			time.Sleep(monPoll)
		}
	}
	if p := monGet(t, s, paused.ID); p.Attributes.Status != "paused" || !p.checked(t).IsZero() {
		t.Errorf("the paused monitor was checked across restarts: %+v", p.Attributes)
	}
	// And they still notice outages, and recoveries.
	monCycle(t, s, up.ID, monCP, monRP, 0, srv.stop, srv.start)
	var sla monSLA
	monCall(t, s, "GET", "/api/v2/monitors/"+down.ID+"/sla", apiKey, "", 200, &sla)
	if sla.Data.Attributes.NumberOfIncidents != 1 {
		t.Errorf("the down monitor's incident across restarts: %+v", sla.Data.Attributes)
	}
}

// TestMonitorMaintenance: inside its daily window a monitor is in maintenance,
// is not checked, and an outage does not make it down.
func TestMonitorMaintenance(t *testing.T) {
	t.Parallel()
	s := start(t, "", "--region", "eu")
	srv := monTCPServer(t)
	now := time.Now().UTC()
	from, to := now.Add(-time.Hour).Format("15:04:05"), now.Add(time.Hour).Format("15:04:05")
	window := `"maintenance_from": ` + monJSON(from) + `, "maintenance_to": ` + monJSON(to)

	// Created inside its window: maintenance at once, never checked.
	inside := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "port": `+monJSON(srv.port())+`, `+window))
	if inside.Attributes.Status != "maintenance" || inside.Attributes.MaintenanceFrom == nil || *inside.Attributes.MaintenanceFrom != from {
		t.Errorf("created inside its window: %+v", inside.Attributes)
	}

	// Up, then the window is set around now, then the server stops.
	m := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "port": `+monJSON(srv.port())))
	monWait(t, s, m.ID, "up", monFreq+10*time.Second)
	// Response times are this node's region's (--region).
	var rt monResponseTimes
	monCall(t, s, "GET", "/api/v2/monitors/"+m.ID+"/response-times", apiKey, "", 200, &rt)
	if r := rt.Data.Attributes.Regions; len(r) != 1 || r[0].Region != "eu" || len(r[0].ResponseTimes) == 0 {
		t.Errorf("response times with --region eu: %+v", rt.Data)
	}
	p := monPatch(t, s, m.ID, `{`+window+`}`)
	if p.Attributes.Status != "maintenance" {
		t.Errorf("window set around now: status %q", p.Attributes.Status)
	}
	checked := monGet(t, s, m.ID).checked(t)
	srv.stop()
	// Longer than a period and the confirmation: it would be down by now.
	time.Sleep(monFreq + monCP + monSlack)
	for _, id := range []string{m.ID, inside.ID} {
		got := monGet(t, s, id)
		if got.Attributes.Status != "maintenance" {
			t.Errorf("monitor %s in its window with its server down: status %q", id, got.Attributes.Status)
		}
		if want := map[string]time.Time{m.ID: checked, inside.ID: {}}[id]; !got.checked(t).Equal(want) {
			t.Errorf("monitor %s checked during its window: last_checked_at %v, was %v", id, got.checked(t), want)
		}
	}
	// Paused inside the window, and resumed: back in maintenance, not pending.
	if p := monPatch(t, s, inside.ID, `{"paused": true}`); p.Attributes.Status != "paused" {
		t.Errorf("paused in maintenance: status %q", p.Attributes.Status)
	}
	if p := monPatch(t, s, inside.ID, `{"paused": false}`); p.Attributes.Status != "maintenance" {
		t.Errorf("resumed inside the window: status %q, want maintenance", p.Attributes.Status)
	}
	// The window ends (removed): checked again, and the outage is seen.
	p = monPatch(t, s, m.ID, `{"maintenance_from": null, "maintenance_to": null}`)
	if p.Attributes.Status == "maintenance" || p.Attributes.MaintenanceFrom != nil {
		t.Errorf("window removed: %+v", p.Attributes)
	}
	monWait(t, s, m.ID, "down", monFreq+monCP+10*time.Second)
	// A window that does not contain now changes nothing.
	later := `"maintenance_from": ` + monJSON(now.Add(3*time.Hour).Format("15:04:05")) +
		`, "maintenance_to": ` + monJSON(now.Add(4*time.Hour).Format("15:04:05"))
	if p := monPatch(t, s, m.ID, `{`+later+`}`); p.Attributes.Status != "down" {
		t.Errorf("window elsewhere in the day: status %q, want down", p.Attributes.Status)
	}
}

// TestMonitorDenyPrivateTargets: with --deny-private-targets a monitor of a
// loopback target is down without reaching it; without the flag it is up.
func TestMonitorDenyPrivateTargets(t *testing.T) {
	t.Parallel()
	// One HTTP target per server, so each counts its own probes.
	var deniedHits, allowedHits atomic.Int64
	target := func(n *atomic.Int64) *monService {
		return monHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			n.Add(1)
			io.WriteString(w, "ok")
		}), nil)
	}
	deniedHTTP, allowedHTTP := target(&deniedHits), target(&allowedHits)
	tcp := monTCPServer(t)
	bodies := func(http *monService) []string {
		return []string{
			`{"monitor_type": "status", "check_frequency": 1, "url": ` + monJSON(http.url("/", false)) + `}`,
			`{"monitor_type": "tcp", "check_frequency": 1, "url": "127.0.0.1", "port": ` + monJSON(tcp.port()) + `}`,
			`{"monitor_type": "ping", "check_frequency": 1, "url": "127.0.0.1"}`,
		}
	}
	denied := start(t, "", "--deny-private-targets")
	allowed := start(t, "")
	var deniedIDs, allowedIDs []string
	for _, b := range bodies(deniedHTTP) {
		deniedIDs = append(deniedIDs, monCreate(t, denied, b).ID)
	}
	for _, b := range bodies(allowedHTTP) {
		allowedIDs = append(allowedIDs, monCreate(t, allowed, b).ID)
	}
	for _, id := range allowedIDs {
		monWait(t, allowed, id, "up", monFreq+10*time.Second)
	}
	if allowedHits.Load() == 0 {
		t.Error("the allowed server's HTTP monitor is up without reaching its target")
	}
	for _, id := range deniedIDs {
		m := monWait(t, denied, id, "down", monFreq+10*time.Second)
		if m.checked(t).IsZero() {
			t.Errorf("denied %s monitor down without a check: %+v", m.Attributes.MonitorType, m.Attributes)
		}
		var sla monSLA
		monCall(t, denied, "GET", "/api/v2/monitors/"+id+"/sla", apiKey, "", 200, &sla)
		if a := sla.Data.Attributes; a.NumberOfIncidents != 1 || a.Availability >= 100 {
			t.Errorf("denied %s monitor: SLA %+v", m.Attributes.MonitorType, a)
		}
	}
	// Refused before connecting: the denied server's target never heard of it.
	if n := deniedHits.Load(); n != 0 {
		t.Errorf("the denied server's HTTP monitor reached its loopback target %d times", n)
	}
}

// TestMonitorMaintenanceClock: the window's start and end come by the clock,
// not by a request: up, maintenance at the window's start, checked again after
// its end, and an outage that began inside the window is seen after it.
func TestMonitorMaintenanceClock(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	srv := monTCPServer(t)
	m := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "port": `+monJSON(srv.port())))
	monWait(t, s, m.ID, "up", monFreq+10*time.Second)
	// A window from the next whole second + 1 s, 3 s long.
	from := time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)
	to := from.Add(3 * time.Second)
	p := monPatch(t, s, m.ID, `{"maintenance_from": `+monJSON(from.Format("15:04:05"))+`, "maintenance_to": `+monJSON(to.Format("15:04:05"))+`}`)
	if p.Attributes.Status != "up" {
		t.Fatalf("window not yet begun: status %q", p.Attributes.Status)
	}
	in := monWait(t, s, m.ID, "maintenance", 2*time.Second+monSlack+2*time.Second)
	if now := time.Now(); now.Before(from) || now.After(from.Add(monSlack)) {
		t.Errorf("maintenance at %s, window starts %s", now.Format(time.StampMilli), from.Format(time.StampMilli))
	}
	srv.stop()
	// After the window: checked again, and down once confirmed.
	for {
		got := monGet(t, s, m.ID)
		if got.Attributes.Status != "maintenance" {
			if time.Now().Before(to) {
				t.Fatalf("left maintenance at %s, before the window's end %s: %q", time.Now().Format(time.StampMilli),
					to.Format(time.StampMilli), got.Attributes.Status)
			}
			break
		}
		if !got.checked(t).Equal(in.checked(t)) {
			t.Errorf("checked during the window: last_checked_at %v, was %v", got.checked(t), in.checked(t))
		}
		if time.Now().After(to.Add(monSlack + 5*time.Second)) {
			t.Fatalf("still in maintenance %v after the window's end", time.Since(to))
		}
		time.Sleep(monPoll)
	}
	down := monWait(t, s, m.ID, "down", monFreq+monCP+monSlack+5*time.Second)
	if !down.checked(t).After(to) {
		t.Errorf("down on a check at %v, before the window's end %v", down.checked(t), to)
	}
}

// TestMonitorMaintenanceDaysAndTimezone: maintenance_days and
// maintenance_timezone, which the API accepts and shows back, decide whether
// now is inside the window.
func TestMonitorMaintenanceDaysAndTimezone(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	g := &monGroup{t: t}
	defer g.wait()
	srv := monTCPServer(t)
	now := time.Now().UTC()
	around := func(tm time.Time) string {
		return `"maintenance_from": ` + monJSON(tm.Add(-time.Hour).Format("15:04:05")) +
			`, "maintenance_to": ` + monJSON(tm.Add(time.Hour).Format("15:04:05"))
	}
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	today, tomorrow := days[now.Weekday()], days[(now.Weekday()+1)%7]
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	// Around now on UTC's wall clock, but another day: not in maintenance.
	// (An hour either side of now may cross midnight; skip close to it.)
	if now.Hour() == 0 || now.Hour() == 23 {
		t.Skip("too close to midnight UTC for a window of today")
	}
	for _, c := range []struct {
		name, members, want string
	}{
		{"today", around(now) + `, "maintenance_days": [` + monJSON(today) + `]`, "maintenance"},
		{"another day", around(now) + `, "maintenance_days": [` + monJSON(tomorrow) + `]`, "up"},
		{"Tokyo's wall clock", around(now.In(tokyo)) + `, "maintenance_timezone": "Tokyo"`, "maintenance"},
		{"UTC's wall clock in Tokyo", around(now) + `, "maintenance_timezone": "Tokyo"`, "up"},
	} {
		m := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "port": `+monJSON(srv.port())+`, `+c.members))
		g.run(c.name, func(t *testing.T) {
			got := monWait(t, s, m.ID, c.want, monFreq+5*time.Second)
			if c.want == "maintenance" && !got.checked(t).IsZero() {
				t.Errorf("checked in maintenance: %+v", got.Attributes)
			}
		})
	}
}

// TestMonitorFilteredPages: the pagination links of a filtered list keep the
// filter, so following "next" pages through the same list.
func TestMonitorFilteredPages(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var want []string
	for i, name := range []string{"Alpha", "Bravo", "Alpha", "Charlie", "Alpha"} {
		m := monCreate(t, s, `{"monitor_type": "status", "check_frequency": 60, "url": "http://127.0.0.1:9/`+strconv.Itoa(i)+
			`", "pronounceable_name": `+monJSON(name)+`}`)
		if name == "Alpha" {
			want = append(want, m.ID)
		}
	}
	list := s.url + "/api/v2/monitors"
	var seen []string
	next := list + "?pronounceable_name=Alpha&per_page=2"
	for page := 1; page <= 2; page++ {
		var l monList
		monCall(t, s, "GET", strings.TrimPrefix(next, s.url), apiKey, "", 200, &l)
		for _, r := range l.Data {
			seen = append(seen, r.ID)
		}
		for _, link := range []string{l.Pagination.First, l.Pagination.Last} {
			if !strings.Contains(link, "pronounceable_name=Alpha") || !strings.Contains(link, "per_page=2") {
				t.Errorf("page %d: link %s drops the filter", page, link)
			}
		}
		if !strings.Contains(l.Pagination.Last, "page=2") {
			t.Errorf("page %d: last %s, want page 2 of the filtered list", page, l.Pagination.Last)
		}
		if (page == 2) != (l.Pagination.Next == nil) {
			t.Fatalf("page %d: next %v", page, l.Pagination.Next)
		}
		if l.Pagination.Next != nil {
			next = *l.Pagination.Next
		}
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("filtered pages gave %v, want %v", seen, want)
	}
}

// TestMonitorFlapping: a failure while validating is the same outage, down at
// once without a new confirmation or incident; a pause in the middle of an
// outage keeps its incident, and after the resume a success must still last
// the recovery period.
func TestMonitorFlapping(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	srv := monTCPServer(t)
	m := monCreate(t, s, monBody(`"monitor_type": "tcp", "url": "127.0.0.1", "port": `+monJSON(srv.port())))
	monWait(t, s, m.ID, "up", monFreq+10*time.Second)
	srv.stop()
	monWait(t, s, m.ID, "down", monFreq+monCP+10*time.Second)
	srv.start()
	monWait(t, s, m.ID, "validating", monFreq+10*time.Second)
	srv.stop()
	stopAt := time.Now()
	monWait(t, s, m.ID, "down", monFreq+10*time.Second)
	if d := time.Since(stopAt); d > monFreq+monSlack {
		t.Errorf("validating to down took %v; a failure while validating needs no confirmation", d)
	}

	// Paused while down, resumed once the server is back.
	if p := monPatch(t, s, m.ID, `{"paused": true}`); p.Attributes.Status != "paused" {
		t.Fatalf("paused: %+v", p.Attributes)
	}
	srv.start()
	p := monPatch(t, s, m.ID, `{"paused": false}`)
	if p.Attributes.Status != "pending" {
		t.Errorf("resumed: status %q, want pending", p.Attributes.Status)
	}
	// No probe ran while paused: the first check after the resume is the
	// first success.
	before := p.checked(t)
	var first time.Time
	validating := false
	deadline := time.Now().Add(monFreq + monRP + 10*time.Second)
	for {
		got := monGet(t, s, m.ID)
		if lc := got.checked(t); first.IsZero() && lc.After(before) {
			first = lc
		}
		st := got.Attributes.Status
		if st == "up" {
			if !validating || first.IsZero() || time.Now().Before(first.Add(monRP)) {
				t.Errorf("up %v after the first success after the resume (validating seen: %v); recovery_period is %v",
					time.Since(first), validating, monRP)
			}
			break
		}
		validating = validating || st == "validating"
		if (st != "validating" && st != "pending") || time.Now().After(deadline) {
			t.Fatalf("after the resume: status %q", st)
		}
		time.Sleep(monPoll)
	}
	var sla monSLA
	monCall(t, s, "GET", "/api/v2/monitors/"+m.ID+"/sla", apiKey, "", 200, &sla)
	if a := sla.Data.Attributes; a.NumberOfIncidents != 1 || a.TotalDowntime < int64(monCP/time.Second) {
		t.Errorf("one outage, interrupted by validating and a pause: SLA %+v", a)
	}
}

// TestMonitorAlerts: a monitor's outage and recovery are mailed to the
// project's email channels when its email flag is on, and not when it is off.
func TestMonitorAlerts(t *testing.T) {
	t.Parallel()
	mb := newMailbox(t)
	s := start(t, "", "--notify-max-backoff", "1s")
	host, port, _ := net.SplitHostPort(mb.addr)
	s.addChannel("mail", "email", fmt.Sprintf(
		`{"host": %q, "port": %s, "tls": "none", "from": "v@example.com", "to": ["oncall@example.com"]}`, host, port))
	srv := monTCPServer(t)
	body := func(name string, email bool) string {
		return `{"monitor_type": "tcp", "check_frequency": 1, "confirmation_period": 0, "recovery_period": 0, "url": "127.0.0.1",
			"port": ` + monJSON(srv.port()) + `, "pronounceable_name": ` + monJSON(name) + `, "email": ` + strconv.FormatBool(email) + `}`
	}
	loud := monCreate(t, s, body("loud-monitor", true))
	quiet := monCreate(t, s, body("quiet-monitor", false))
	for _, id := range []string{loud.ID, quiet.ID} {
		monWait(t, s, id, "up", monFreq+10*time.Second)
	}
	// The first verdict (pending to up) is no incident: nothing mailed.
	srv.stop()
	for _, id := range []string{loud.ID, quiet.ID} {
		monWait(t, s, id, "down", monFreq+10*time.Second)
	}
	down := mb.wait(t, 1, 15*time.Second)
	srv.start()
	for _, id := range []string{loud.ID, quiet.ID} {
		monWait(t, s, id, "up", monFreq+10*time.Second)
	}
	got := mb.wait(t, 2, 15*time.Second)
	if len(got) != 2 {
		t.Fatalf("%d mails for one outage of one monitor with email on: %+v", len(got), got)
	}
	for i, m := range got {
		if !strings.Contains(m.Data, "loud-monitor") || strings.Contains(m.Data, "quiet-monitor") || m.To[0] != "oncall@example.com" {
			t.Errorf("mail %d: %+v", i, m)
		}
	}
	if got[0].Data != down[0].Data || !strings.Contains(strings.ToLower(got[0].Data), "down") || !strings.Contains(strings.ToLower(got[1].Data), "up") {
		t.Errorf("want a down mail then an up mail: %q, %q", got[0].Data, got[1].Data)
	}
}

// TestMonitorDeleteWhileProbing: deleting a monitor whose probe is in flight
// answers at once, the probe's late result is dropped, and the server still
// shuts down promptly (nothing waits for the deleted monitor's result).
func TestMonitorDeleteWhileProbing(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	arrived := make(chan struct{}, 100)
	srv := monHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(4 * time.Second):
		}
	}), nil)
	m := monCreate(t, s, `{"monitor_type": "status", "check_frequency": 1, "request_timeout": 5, "url": `+monJSON(srv.url("/", false))+`}`)
	select {
	case <-arrived:
	case <-time.After(monFreq + 10*time.Second):
		t.Fatal("no probe reached the target")
	}
	began := time.Now()
	monCall(t, s, "DELETE", "/api/v2/monitors/"+m.ID, apiKey, "", 204, nil)
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("DELETE with a probe in flight took %v", d)
	}
	monCall(t, s, "GET", "/api/v2/monitors/"+m.ID, apiKey, "", 404, nil)
	// Let the probe end (the target answers after 4 s), then stop the server.
	time.Sleep(4*time.Second + monSlack)
	began = time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		s.done = nil
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit within 60 s of SIGTERM\n%s", s.out)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("shutdown took %v after deleting a monitor with a probe in flight\n%s", d, s.out)
	}
}
