package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

type keys struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	APIKey      string `json:"api_key"`
	ReadOnlyKey string `json:"read_only_key"`
	PingKey     string `json:"ping_key"`
}

func (s *server) admin(method, path, body string, want int, out any) {
	s.t.Helper()
	code, b := call(s.t, method, s.url+path, map[string]string{"Authorization": "Bearer " + adminKey}, body)
	if code != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatal(err)
		}
	}
}

func TestSlugPingsAndAutoProvisioning(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var p keys
	s.admin("POST", "/admin/v1/projects", `{"name": "acme"}`, 201, &p)
	c := s.create(p.APIKey, `{"name": "Nightly DB Backup", "slug": "db-backup", "timeout": 60, "grace": 60}`)
	if code, body := s.ping("/ping/" + p.PingKey + "/db-backup"); code != 200 || body != "OK" {
		t.Fatalf("slug ping: %d %q", code, body)
	}
	if code, _ := s.ping("/ping/" + p.PingKey + "/db-backup/start"); code != 200 {
		t.Fatalf("slug start: %d", code)
	}
	var got check
	s.api("GET", "/api/v3/checks/"+c.UUID, p.APIKey, "", 200, &got)
	if got.NPings != 2 {
		t.Fatalf("n_pings %d after two slug pings", got.NPings)
	}
	if code, body := s.ping("/ping/" + p.PingKey + "/nope"); code != 404 || body != "OK (not found)" {
		t.Fatalf("unknown slug: %d %q", code, body)
	}
	if code, _ := s.ping("/ping/" + p.PingKey + "/Upper"); code != 400 {
		t.Fatalf("upper-case slug: %d", code)
	}
	if code, body := s.ping("/ping/" + p.PingKey + "/fresh?create=1"); code != 201 || body != "Created" {
		t.Fatalf("auto-provision: %d %q", code, body)
	}
	if code, body := s.ping("/ping/" + p.PingKey + "/fresh?create=1"); code != 200 || body != "OK" {
		t.Fatalf("second auto-provision ping: %d %q", code, body)
	}
	var list struct{ Checks []check }
	s.api("GET", "/api/v3/checks/?slug=fresh", p.APIKey, "", 200, &list)
	if len(list.Checks) != 1 || list.Checks[0].Name != "fresh" || list.Checks[0].NPings != 2 {
		t.Fatalf("auto-provisioned: %+v", list.Checks)
	}
	// Two checks with one slug make slug pings ambiguous.
	s.create(p.APIKey, `{"name": "dup", "slug": "db-backup"}`)
	if code, _ := s.ping("/ping/" + p.PingKey + "/db-backup"); code != 409 {
		t.Fatalf("ambiguous slug: %d", code)
	}
	// v1 and v2 derive the slug from the name.
	var v2 check
	s.api("POST", "/api/v2/checks/", p.APIKey, `{"name": "Weekly Report!"}`, 201, &v2)
	s.api("GET", "/api/v3/checks/"+v2.UUID, p.APIKey, "", 200, &got)
	if got.Slug == nil || *got.Slug != "weekly-report" {
		t.Fatalf("v2 slug: %v", got.Slug)
	}
	if code, _ := s.ping("/ping/" + p.PingKey + "/weekly-report"); code != 200 {
		t.Fatalf("ping v2 slug: %d", code)
	}
}

func TestReadOnlyKey(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.create(apiKey, `{"name": "ro", "tags": "prod db", "timeout": 60, "grace": 60}`)
	s.ping("/ping/" + c.UUID)
	var list struct{ Checks []map[string]any }
	s.api("GET", "/api/v1/checks/", roKey, "", 200, &list)
	if len(list.Checks) != 1 {
		t.Fatalf("list: %+v", list)
	}
	got := list.Checks[0]
	for _, hidden := range []string{"ping_url", "update_url", "pause_url", "channels", "uuid"} {
		if _, ok := got[hidden]; ok {
			t.Fatalf("read-only list shows %s: %v", hidden, got)
		}
	}
	uk, _ := got["unique_key"].(string)
	if len(uk) != 40 {
		t.Fatalf("unique_key %q", uk)
	}
	var one check
	s.api("GET", "/api/v1/checks/"+uk, roKey, "", 200, &one)
	if one.Name != "ro" || one.PingURL != nil {
		t.Fatalf("get by unique_key: %+v", one)
	}
	s.api("GET", "/api/v1/checks/"+c.UUID, roKey, "", 200, &one)
	s.api("GET", "/api/v1/checks/"+uk+"/flips/", roKey, "", 200, nil)
	s.api("GET", "/api/v1/checks/"+c.UUID+"/flips/", roKey, "", 200, nil)
	// Everything else is refused to a read-only key.
	for _, r := range [][2]string{
		{"POST", "/api/v1/checks/"}, {"POST", "/api/v1/checks/" + c.UUID}, {"DELETE", "/api/v1/checks/" + c.UUID},
		{"POST", "/api/v1/checks/" + c.UUID + "/pause"}, {"GET", "/api/v1/checks/" + c.UUID + "/pings/"},
		{"GET", "/api/v1/channels/"},
	} {
		var e struct{ Error string }
		s.api(r[0], r[1], roKey, `{"name": "x"}`, 401, &e)
		if e.Error == "" {
			t.Fatalf("%v: no error message", r)
		}
	}
	// Tag filters: every given tag must match.
	s.create(apiKey, `{"name": "other", "tags": "prod web"}`)
	s.api("GET", "/api/v1/checks/?tag=prod&tag=db", roKey, "", 200, &list)
	if len(list.Checks) != 1 {
		t.Fatalf("tag filter: %d checks", len(list.Checks))
	}
	s.api("GET", "/api/v1/checks/?tag=prod", roKey, "", 200, &list)
	if len(list.Checks) != 2 {
		t.Fatalf("tag filter prod: %d checks", len(list.Checks))
	}
}

func TestProjectsAreIsolated(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	var a, b keys
	s.admin("POST", "/admin/v1/projects", `{"name": "a"}`, 201, &a)
	s.admin("POST", "/admin/v1/projects", `{"name": "b"}`, 201, &b)
	if a.APIKey == b.APIKey || a.PingKey == b.PingKey || len(a.APIKey) != 32 {
		t.Fatalf("keys: %+v %+v", a, b)
	}
	ca := s.create(a.APIKey, `{"name": "a-check", "slug": "same"}`)
	cb := s.create(b.APIKey, `{"name": "b-check", "slug": "same"}`)
	// Another project's uuid answers exactly as an unknown one.
	unknown := "00000000-0000-4000-8000-000000000000"
	_, want := call(t, "GET", s.url+"/api/v3/checks/"+unknown, map[string]string{"X-Api-Key": a.APIKey}, "")
	for _, path := range []string{"", "/pings/", "/flips/"} {
		code, body := call(t, "GET", s.url+"/api/v3/checks/"+cb.UUID+path, map[string]string{"X-Api-Key": a.APIKey}, "")
		if code != 404 || (path == "" && string(body) != string(want)) {
			t.Fatalf("a reads b's check%s: %d %s", path, code, body)
		}
	}
	s.api("POST", "/api/v3/checks/"+cb.UUID, a.APIKey, `{"name": "hijack"}`, 404, nil)
	s.api("DELETE", "/api/v3/checks/"+cb.UUID, a.APIKey, "", 404, nil)
	var list struct{ Checks []check }
	s.api("GET", "/api/v3/checks/", a.APIKey, "", 200, &list)
	if len(list.Checks) != 1 || list.Checks[0].UUID != ca.UUID {
		t.Fatalf("a's list: %+v", list.Checks)
	}
	// Same slug in two projects: each ping key reaches its own check.
	s.ping("/ping/" + b.PingKey + "/same")
	var gotA, gotB check
	s.api("GET", "/api/v3/checks/"+ca.UUID, a.APIKey, "", 200, &gotA)
	s.api("GET", "/api/v3/checks/"+cb.UUID, b.APIKey, "", 200, &gotB)
	if gotA.NPings != 0 || gotB.NPings != 1 {
		t.Fatalf("slug ping crossed projects: a %d b %d", gotA.NPings, gotB.NPings)
	}
	// Listing and getting projects shows no keys.
	var plist struct{ Projects []map[string]any }
	s.admin("GET", "/admin/v1/projects", "", 200, &plist)
	if len(plist.Projects) != 3 { // default + a + b
		t.Fatalf("projects: %v", plist.Projects)
	}
	for _, p := range plist.Projects {
		if _, ok := p["api_key"]; ok {
			t.Fatalf("project list shows a key: %v", p)
		}
	}
	// Rotation: the old key stops at once, the new one works.
	var rot keys
	s.admin("POST", "/admin/v1/projects/"+a.ID+"/rotate", "", 200, &rot)
	s.api("GET", "/api/v3/checks/", a.APIKey, "", 401, nil)
	s.api("GET", "/api/v3/checks/", rot.APIKey, "", 200, &list)
	if len(list.Checks) != 1 {
		t.Fatalf("after rotate: %+v", list.Checks)
	}
	// Deleting a project takes its checks with it.
	s.admin("DELETE", "/admin/v1/projects/"+b.ID, "", 204, nil)
	if code, _ := s.ping("/ping/" + cb.UUID); code != 404 {
		t.Fatalf("ping of a deleted project's check: %d", code)
	}
	s.api("GET", "/api/v3/checks/", b.APIKey, "", 401, nil)
	s.admin("GET", "/admin/v1/projects/"+b.ID, "", 404, nil)
	// The admin API wants its key.
	code, _ := call(t, "GET", s.url+"/admin/v1/projects", map[string]string{"Authorization": "Bearer wrong"}, "")
	if code != 401 {
		t.Fatalf("admin with a wrong key: %d", code)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.create(apiKey, `{"name": "x"}`)
	cases := []struct {
		method, path, key, body string
		want                    int
	}{
		{"POST", "/api/v3/checks/", apiKey, `{"name": `, 400},
		{"POST", "/api/v3/checks/", apiKey, `[1, 2]`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"timeout": "60"}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"timeout": 0.5}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"timeout": 0}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"timeout": 31536001}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"grace": -5}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"name": null}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"name": 5}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"manual_resume": "yes"}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"tags": ["a"]}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"unique": ["color"]}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"slug": "Bad Slug"}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"channels": "no-such-channel"}`, 400},
		{"POST", "/api/v3/checks/", apiKey, `{"name": "` + strings.Repeat("n", 101) + `"}`, 400},
		{"POST", "/api/v3/checks/" + c.UUID, apiKey, `{"schedule": "every day"}`, 400},
		{"POST", "/api/v3/checks/" + c.UUID, apiKey, `{"tz": "Nowhere/Land"}`, 400},
		{"GET", "/api/v3/checks/00000000-0000-4000-8000-000000000000", apiKey, "", 404},
		{"GET", "/api/v3/checks/", "", "", 401},
		{"GET", "/api/v3/checks/", "wrong-key", "", 401},
		{"GET", "/api/v3/checks/" + c.UUID + "/flips/?seconds=abc", apiKey, "", 400},
		{"GET", "/api/v3/checks/" + c.UUID + "/flips/?start=-1", apiKey, "", 400},
	}
	for _, tc := range cases {
		code, body := call(t, tc.method, s.url+tc.path, map[string]string{"X-Api-Key": tc.key}, tc.body)
		if code != tc.want {
			t.Errorf("%s %s %s: %d, want %d: %s", tc.method, tc.path, tc.body, code, tc.want, body)
			continue
		}
		if tc.want == 400 || tc.want == 401 {
			var e struct{ Error string }
			if json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("%s %s: error body %q has no error", tc.method, tc.path, body)
			}
		}
	}
	// Nothing half-written: the check is as it was.
	var got check
	s.api("GET", "/api/v3/checks/"+c.UUID, apiKey, "", 200, &got)
	if got.Schedule != "" || got.TZ != "" || got.Timeout != 86400 {
		t.Fatalf("check changed by refused updates: %+v", got)
	}
	var list struct{ Checks []check }
	s.api("GET", "/api/v3/checks/", apiKey, "", 200, &list)
	if len(list.Checks) != 1 {
		t.Fatalf("refused creates made checks: %d", len(list.Checks))
	}
	// api_key in the body works for POST.
	s.api("POST", "/api/v1/checks/", "", `{"api_key": "`+apiKey+`", "name": "body-key"}`, 201, nil)
}

func TestUniqueCreate(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	first := s.create(apiKey, `{"name": "Backups", "tags": "a", "timeout": 3600}`)
	var again check
	s.api("POST", "/api/v3/checks/", apiKey, `{"name": "Backups", "tags": "b", "unique": ["name"]}`, 200, &again)
	if again.UUID != first.UUID || again.Tags != "b" {
		t.Fatalf("unique match: %+v (first %s)", again, first.UUID)
	}
	var other check
	s.api("POST", "/api/v3/checks/", apiKey, `{"name": "Backups", "unique": ["name", "timeout"]}`, 201, &other)
	if other.UUID == first.UUID {
		t.Fatal("unique with an absent field matched")
	}
	var del check
	s.api("DELETE", "/api/v3/checks/"+first.UUID, apiKey, "", 200, &del)
	if del.UUID != first.UUID {
		t.Fatalf("delete answered %+v", del)
	}
	s.api("GET", "/api/v3/checks/"+first.UUID, apiKey, "", 404, nil)
	if code, _ := s.ping("/ping/" + first.UUID); code != 404 {
		t.Fatalf("ping of a deleted check: %d", code)
	}
	var ch struct{ Channels []any }
	s.api("GET", "/api/v3/channels/", apiKey, "", 200, &ch)
	if ch.Channels == nil || len(ch.Channels) != 0 {
		t.Fatalf("channels: %+v", ch)
	}
}
