package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A simple check goes new → up → grace → down on time, with flips recorded and
// never early.
func TestLifecycleSimple(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.create(apiKey, `{"name": "backup", "timeout": 2, "grace": 1}`)
	if c.Status != "new" || c.Timeout != 2 || c.Grace != 1 || c.NextPing != nil {
		t.Fatalf("created check: %+v", c)
	}
	// Taken before the ping, so it is no later than the ping's own time: "not before
	// pinged + 2s" is then a sound never-early check however slow the answer is.
	pinged := time.Now()
	if code, body := s.ping("/ping/" + c.UUID); code != 200 || body != "OK" {
		t.Fatalf("ping: %d %q", code, body)
	}
	up := s.waitStatus(c.UUID, "up", 5*time.Second)
	if up.NPings != 1 || up.LastPing == nil || up.NextPing == nil {
		t.Fatalf("after ping: %+v", up)
	}
	grace := s.waitStatus(c.UUID, "grace", 10*time.Second)
	if since := time.Since(pinged); since < 2*time.Second {
		t.Fatalf("grace after %v, before the 2s timeout", since)
	}
	_ = grace
	s.waitStatus(c.UUID, "down", 10*time.Second)
	if since := time.Since(pinged); since < 3*time.Second {
		t.Fatalf("down after %v, before timeout+grace (3s)", since)
	}
	flips := s.waitFlips(c.UUID, 2)
	if flips[0].Up != 0 || flips[1].Up != 1 {
		t.Fatalf("flips (newest first): %+v", flips)
	}
	lastPing, _ := time.Parse(time.RFC3339, *up.LastPing)
	if down := flips[0].time(t); down.Before(lastPing.Add(3 * time.Second)) {
		t.Fatalf("down flip at %v, before last ping %v + timeout + grace", down, lastPing)
	}
	// A ping brings it back up, with a flip.
	s.ping("/ping/" + c.UUID)
	s.waitStatus(c.UUID, "up", 5*time.Second)
	if flips = s.waitFlips(c.UUID, 3); flips[0].Up != 1 {
		t.Fatalf("flips after recovery: %+v", flips)
	}
}

// A cron check's next_ping follows its schedule in its time zone, and it goes down
// when the scheduled run plus grace passes without a ping.
func TestLifecycleCron(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.create(apiKey, `{"name": "nightly", "schedule": "* * * * *", "tz": "Europe/Riga", "grace": 1}`)
	if c.Schedule != "* * * * *" || c.TZ != "Europe/Riga" {
		t.Fatalf("created: %+v", c)
	}
	s.ping("/ping/" + c.UUID)
	up := s.waitStatus(c.UUID, "up", 5*time.Second)
	last, _ := time.Parse(time.RFC3339, *up.LastPing)
	next, err := time.Parse(time.RFC3339, *up.NextPing)
	if err != nil {
		t.Fatal(err)
	}
	if next.Second() != 0 || !next.After(last) || next.Sub(last) > time.Minute {
		t.Fatalf("next_ping %v after last_ping %v: want the next whole minute", next, last)
	}
	s.waitStatus(c.UUID, "down", 75*time.Second)
	if flips := s.waitFlips(c.UUID, 2); flips[0].time(t).Before(next.Add(time.Second)) {
		t.Fatalf("flips %+v: down must not come before %v + grace", flips, next)
	}
	// Bad cron expressions and zones are refused.
	for _, body := range []string{`{"schedule": "61 * * * *"}`, `{"schedule": "* * * * *", "tz": "Mars/Olympus"}`, `{"schedule": ""}`} {
		var e struct{ Error string }
		s.api("POST", "/api/v3/checks/", apiKey, body, 400, &e)
		if e.Error == "" {
			t.Fatalf("%s: no error message", body)
		}
	}
}

// Start, fail, exit status and log signals, run ids and durations, bodies.
func TestSignals(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.create(apiKey, `{"name": "job", "timeout": 60, "grace": 60}`)
	p := "/ping/" + c.UUID
	rid := "6d5b8c4e-0f2a-4b8e-9d7c-1a2b3c4d5e6f"

	if code, _ := s.ping(p + "/start?rid=" + rid); code != 200 {
		t.Fatalf("start: %d", code)
	}
	var v1, v2 check
	s.api("GET", "/api/v1/checks/"+c.UUID, apiKey, "", 200, &v1)
	s.api("GET", "/api/v2/checks/"+c.UUID, apiKey, "", 200, &v2)
	if v1.Status != "started" || v1.Started != nil {
		t.Fatalf("v1 while running: %+v", v1)
	}
	if v2.Status != "new" || v2.Started == nil || !*v2.Started {
		t.Fatalf("v2 while running: status %q started %v", v2.Status, v2.Started)
	}
	time.Sleep(1100 * time.Millisecond) // a measurable duration; not a timer test
	if code, _ := s.ping(p + "?rid=" + rid); code != 200 {
		t.Fatalf("success: %d", code)
	}
	up := s.waitStatus(c.UUID, "up", 5*time.Second)
	if up.LastDuration < 1 || (up.Started != nil && *up.Started) {
		t.Fatalf("after completion: %+v", up)
	}
	// /fail and a non-zero exit status are failures; /0 is a success.
	s.ping(p + "/fail")
	s.waitStatus(c.UUID, "down", 5*time.Second)
	s.ping(p + "/0")
	s.waitStatus(c.UUID, "up", 5*time.Second)
	s.ping(p + "/7")
	s.waitStatus(c.UUID, "down", 5*time.Second)
	if code, body := s.ping(p + "/256"); code != 400 {
		t.Fatalf("/256: %d %q", code, body)
	}
	if code, _ := s.ping(p + "?rid=not-a-uuid"); code != 400 {
		t.Fatalf("bad rid: %d", code)
	}
	// /log records without changing status.
	code, _ := call(t, "POST", s.url+p+"/log", nil, "hello log")
	if code != 200 {
		t.Fatalf("log: %d", code)
	}
	var after check
	s.api("GET", "/api/v3/checks/"+c.UUID, apiKey, "", 200, &after)
	if after.Status != "down" {
		t.Fatalf("log changed status to %q", after.Status)
	}
	// A body past the limit is refused and not recorded.
	big := strings.Repeat("x", 100_001)
	if code, _ := call(t, "POST", s.url+p, nil, big); code != 413 {
		t.Fatalf("oversized body: %d", code)
	}
	var pings struct {
		Pings []map[string]any `json:"pings"`
	}
	s.api("GET", "/api/v3/checks/"+c.UUID+"/pings/", apiKey, "", 200, &pings)
	kinds := []string{}
	for _, p := range pings.Pings {
		kinds = append(kinds, p["type"].(string))
	}
	want := "log fail success fail success start"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("ping kinds newest first: %v, want %s", kinds, want)
	}
	if pings.Pings[4]["duration"] == nil || pings.Pings[4]["rid"] != rid {
		t.Fatalf("completion ping: %v", pings.Pings[4])
	}
	n := int(pings.Pings[0]["n"].(float64))
	code, body := call(t, "GET", fmt.Sprintf("%s/api/v3/checks/%s/pings/%d/body", s.url, c.UUID, n), map[string]string{"X-Api-Key": apiKey}, "")
	if code != 200 || string(body) != "hello log" {
		t.Fatalf("ping body: %d %q", code, body)
	}
	if after.NPings != 6 {
		t.Fatalf("n_pings %d, want 6 (the refused body is not counted)", after.NPings)
	}
}

// Pausing stops monitoring; a ping resumes, unless manual_resume.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.create(apiKey, `{"name": "p", "timeout": 1, "grace": 1}`)
	s.ping("/ping/" + c.UUID)
	s.api("POST", "/api/v3/checks/"+c.UUID+"/pause", apiKey, "", 200, nil)
	s.waitStatus(c.UUID, "paused", time.Second)
	time.Sleep(2500 * time.Millisecond) // past timeout+grace: a paused check must not go down
	s.waitStatus(c.UUID, "paused", time.Second)
	s.ping("/ping/" + c.UUID)
	s.waitStatus(c.UUID, "up", 5*time.Second)

	s.api("POST", "/api/v3/checks/"+c.UUID, apiKey, `{"manual_resume": true}`, 200, nil)
	s.api("POST", "/api/v3/checks/"+c.UUID+"/pause", apiKey, "", 200, nil)
	s.ping("/ping/" + c.UUID)
	s.waitStatus(c.UUID, "paused", time.Second)
	code, _ := call(t, "POST", s.url+"/api/v3/checks/"+c.UUID+"/resume", map[string]string{"X-Api-Key": apiKey}, "")
	if code != 200 {
		t.Fatalf("resume: %d", code)
	}
	s.waitStatus(c.UUID, "new", time.Second)
	code, body := call(t, "POST", s.url+"/api/v3/checks/"+c.UUID+"/resume", map[string]string{"X-Api-Key": apiKey}, "")
	if code != 409 {
		t.Fatalf("resume of a check not paused: %d %s", code, body)
	}
	var pings struct {
		Pings []struct{ Type string } `json:"pings"`
	}
	s.api("GET", "/api/v3/checks/"+c.UUID+"/pings/", apiKey, "", 200, &pings)
	if pings.Pings[0].Type != "ign" {
		t.Fatalf("ping to a paused manual_resume check logged as %q, want ign", pings.Pings[0].Type)
	}
}

// A check with methods "POST" logs a GET or HEAD ping as ignored, answers it OK
// as Healthchecks.io does, and stays as it was; a POST counts, through a restart
// too.
func TestMethodsPOST(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var c struct {
		UUID    string `json:"uuid"`
		Methods string `json:"methods"`
	}
	s.api("POST", "/api/v3/checks/", apiKey, `{"name": "post-only", "timeout": 60, "grace": 60, "methods": "POST"}`, 201, &c)
	if c.Methods != "POST" {
		t.Fatalf("created with methods %q, want POST", c.Methods)
	}
	for _, m := range []string{"GET", "HEAD"} {
		if code, body := call(t, m, s.url+"/ping/"+c.UUID, nil, ""); code != 200 || (m == "GET" && body != nil && string(body) != "OK") {
			t.Fatalf("%s ping: %d %q, want 200 OK", m, code, body)
		}
	}
	s.waitStatus(c.UUID, "new", time.Second)
	var pings struct {
		Pings []struct {
			Type   string `json:"type"`
			Method string `json:"method"`
		} `json:"pings"`
	}
	s.api("GET", "/api/v3/checks/"+c.UUID+"/pings/", apiKey, "", 200, &pings)
	if len(pings.Pings) != 2 || pings.Pings[0].Type != "ign" || pings.Pings[1].Type != "ign" {
		t.Fatalf("pings %+v, want two ignored", pings.Pings)
	}

	s.kill9()
	s.restart()
	if code, _ := call(t, "POST", s.url+"/ping/"+c.UUID, nil, ""); code != 200 {
		t.Fatalf("POST ping: %d", code)
	}
	s.waitStatus(c.UUID, "up", 5*time.Second)
	s.api("GET", "/api/v3/checks/"+c.UUID+"/pings/", apiKey, "", 200, &pings)
	if len(pings.Pings) != 3 || pings.Pings[0].Type != "success" || pings.Pings[0].Method != "POST" {
		t.Fatalf("pings %+v, want the POST counted", pings.Pings)
	}

	// Back to any method: a GET counts again.
	s.api("POST", "/api/v3/checks/"+c.UUID, apiKey, `{"methods": ""}`, 200, &c)
	if c.Methods != "" {
		t.Fatalf("updated methods %q, want empty", c.Methods)
	}
	s.ping("/ping/" + c.UUID + "/fail")
	s.waitStatus(c.UUID, "down", 5*time.Second)
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
