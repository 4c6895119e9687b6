package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A monitor whose target answers goes down when its domain registration, as
// the RDAP server tells it, expires within domain_expiration days; one with a
// shorter horizon stays up.
func TestMonitorDomainExpiry(t *testing.T) {
	t.Parallel()
	var asked atomic.Int32
	expires := time.Now().Add(3 * 24 * time.Hour).UTC().Format(time.RFC3339)
	rdap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/domain/") {
			http.NotFound(w, r)
			return
		}
		asked.Add(1)
		w.Header().Set("Content-Type", "application/rdap+json")
		fmt.Fprintf(w, `{"objectClassName": "domain", "ldhName": %q, "events": [{"eventAction": "expiration", "eventDate": %q}]}`,
			strings.TrimPrefix(r.URL.Path, "/domain/"), expires)
	}))
	defer rdap.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	s := start(t, "", "--rdap-server", rdap.URL+"/")
	mk := func(days int) string {
		var created struct{ Data struct{ ID string } }
		s.bu("POST", "/api/v2/monitors", apiKey, fmt.Sprintf(
			`{"url": "localhost", "monitor_type": "tcp", "port": %d, "check_frequency": 1, "domain_expiration": %d}`, port, days),
			201, &created)
		return created.Data.ID
	}
	soon, later := mk(7), mk(1)
	status := func(id string) string {
		var got struct {
			Data struct {
				Attributes struct{ Status string } `json:"attributes"`
			}
		}
		s.bu("GET", "/api/v2/monitors/"+id, apiKey, "", 200, &got)
		return got.Data.Attributes.Status
	}
	deadline := time.Now().Add(15 * time.Second)
	for status(soon) != "down" || status(later) != "up" {
		if time.Now().After(deadline) {
			t.Fatalf("domain expiring in 3 days: domain_expiration 7 is %q (want down), 1 is %q (want up)", status(soon), status(later))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if asked.Load() == 0 {
		t.Fatal("RDAP server never asked")
	}
}

// Deleting a project that has monitors and channels works, and across a restart
// the other project's monitors and channels are untouched.
func TestDeleteProjectWithMonitorsAndChannels(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	s := start(t, "")
	var a, b keys
	s.admin("POST", "/admin/v1/projects", `{"name": "a"}`, 201, &a)
	s.admin("POST", "/admin/v1/projects", `{"name": "b"}`, 201, &b)
	for _, k := range []string{a.APIKey, b.APIKey} {
		s.bu("POST", "/api/v2/monitors", k, fmt.Sprintf(`{"url": %q, "check_frequency": 1}`, rc.srv.URL+"/p"), 201, nil)
		s.api("POST", "/api/v3/channels/", k, fmt.Sprintf(`{"kind": "webhook", "config": {"url": %q}}`, rc.srv.URL+"/h"), 201, nil)
	}
	s.admin("DELETE", "/admin/v1/projects/"+b.ID, "", 204, nil)
	s.stop()
	s.restart()
	var list struct{ Data []json.RawMessage }
	s.bu("GET", "/api/v2/monitors", a.APIKey, "", 200, &list)
	if len(list.Data) != 1 {
		t.Errorf("project a has %d monitors after b was deleted, want 1", len(list.Data))
	}
	var chans struct{ Channels []channelJSON }
	s.api("GET", "/api/v3/channels/", a.APIKey, "", 200, &chans)
	if len(chans.Channels) != 1 {
		t.Errorf("project a has %d channels, want 1", len(chans.Channels))
	}
	s.bu("GET", "/api/v2/monitors", b.APIKey, "", 401, nil)
}
