package engine

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/api/betteruptime"
	"github.com/vigilo/vigilo/engine/store"
)

// TestCompileMonitorTarget shows the HTTP attributes a probe applies reaching
// its target, ip_version and remember_cookies among them.
func TestCompileMonitorTarget(t *testing.T) {
	a := betteruptime.DefaultMonitorAttrs()
	a.URL = "https://example.com/login"
	a.HTTPMethod = "post"
	a.FollowRedirects, a.RememberCookies = true, true
	v6 := "ipv6"
	a.IPVersion = &v6
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := compileMonitor(&store.Monitor{ID: uuid.New(), Attrs: raw})
	if err != nil {
		t.Fatal(err)
	}
	tg := spec.Target
	if tg.URL != a.URL || tg.Method != "POST" || !tg.FollowRedirects || !tg.RememberCookies || tg.IPVersion != "ipv6" {
		t.Errorf("target %+v", tg)
	}

	a.RememberCookies, a.IPVersion = false, nil
	if raw, err = json.Marshal(a); err != nil {
		t.Fatal(err)
	}
	if spec, err = compileMonitor(&store.Monitor{ID: uuid.New(), Attrs: raw}); err != nil {
		t.Fatal(err)
	}
	if spec.Target.RememberCookies || spec.Target.IPVersion != "" {
		t.Errorf("unset attributes applied: %+v", spec.Target)
	}
}
