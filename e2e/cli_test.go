package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// `vigilo project create NAME` makes a project through the admin API and prints its
// keys, which then work against the API.
func TestProjectCreateCLI(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	cmd := exec.Command(binary, "project", "create", "--url", s.url, "acme")
	cmd.Env = append(os.Environ(), "VIGILO_ADMIN_KEY="+adminKey) // the key from the environment
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("project create: %v: %s", err, out)
	}
	var k keys
	if err := json.Unmarshal(out, &k); err != nil || k.Name != "acme" || len(k.APIKey) != 32 {
		t.Fatalf("project create printed %s (%v)", out, err)
	}
	c := s.create(k.APIKey, `{"name": "from-cli"}`)
	if code, _ := s.ping("/ping/" + c.UUID); code != 200 {
		t.Fatalf("ping a check of the new project: %d", code)
	}
	bad := exec.Command(binary, "project", "create", "--url", s.url, "--admin-key", "wrong", "x")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
		t.Fatalf("project create with a wrong admin key: %v %s", err, out)
	}
}

// Every flag can be given as a VIGILO_* variable.
func TestFlagsFromEnvironment(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	s := &server{t: t, data: t.TempDir(), addr: addr, url: "http://" + addr}
	s.args = []string{"serve"}
	s.env = []string{"VIGILO_LISTEN=" + addr, "VIGILO_DATA=" + s.data, "VIGILO_API_KEY=" + apiKey,
		"VIGILO_MIN_PERIOD=2s", "VIGILO_BASE_URL=https://hc.example.com/"}
	s.launch()
	t.Cleanup(s.stop)
	var c check
	s.api("POST", "/api/v3/checks/", apiKey, `{"timeout": 2, "grace": 2}`, 201, &c)
	if c.PingURL == nil || *c.PingURL != "https://hc.example.com/ping/"+c.UUID {
		t.Fatalf("ping_url with VIGILO_BASE_URL: %v", c.PingURL)
	}
	var e struct{ Error string }
	s.api("POST", "/api/v3/checks/", apiKey, `{"timeout": 1}`, 400, &e)
	if !strings.Contains(e.Error, "minimum 2") {
		t.Fatalf("VIGILO_MIN_PERIOD=2s not applied: %q", e.Error)
	}
}
