package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape GETs /metrics at url and fails the test unless it answers 200.
func scrape(t *testing.T, url string) string {
	t.Helper()
	code, b := call(t, "GET", url+"/metrics", nil, "")
	if code != 200 {
		t.Fatalf("GET %s/metrics: status %d: %s", url, code, b)
	}
	return string(b)
}

// sample returns the value of the series (name plus labels exactly as exposed, e.g.
// `vigilo_pings_total{kind="success"}`) in the exposition text, failing if absent.
func sample(t *testing.T, text, series string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			if err != nil {
				t.Fatalf("series %s: %q: %v", series, line, err)
			}
			return v
		}
	}
	t.Fatalf("series %s not in the exposition", series)
	return 0
}

// promtoolCheck runs `promtool check metrics` on the exposition text.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (Debian package prometheus; `make tools` installs it): %v", err)
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
}

func TestMetrics(t *testing.T) {
	s := start(t, "")
	c := s.create(apiKey, `{"name": "m", "timeout": 1, "grace": 1}`)
	if code, body := s.ping("/ping/" + c.UUID); code != 200 {
		t.Fatalf("ping: %d %s", code, body)
	}
	if code, _ := s.ping("/ping/" + c.UUID + "/start"); code != 200 {
		t.Fatalf("start ping: %d", code)
	}
	if code, _ := s.ping("/ping/00000000-0000-4000-8000-000000000000"); code != 404 {
		t.Fatalf("unknown ping: %d", code)
	}
	if code, _ := s.ping("/api/v1/heartbeat/no-such-token"); code != 404 {
		t.Fatalf("unknown Better Uptime ping: %d", code)
	}
	// Started, no success within grace: down, through the wheel (the flip is
	// recorded by the actor; the status alone is evaluated at read time).
	s.waitStatus(c.UUID, "down", 10*time.Second)
	s.waitFlips(c.UUID, 2)

	// A commit is readable once applied, and its time is observed a moment
	// later, when the committer calls back: scrape until the flips' commits
	// are counted (the bound only fails a hung server).
	text := scrape(t, s.url)
	for end := time.Now().Add(10 * time.Second); sample(t, text, `vigilo_actor_commit_seconds_count`) < 3 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
		text = scrape(t, s.url)
	}
	promtoolCheck(t, text)

	atLeast := func(series string, min float64) {
		t.Helper()
		if v := sample(t, text, series); v < min {
			t.Errorf("%s = %v, want ≥ %v", series, v, min)
		}
	}
	atLeast(`vigilo_checks`, 1)
	atLeast(`vigilo_pings_total{kind="success"}`, 1)
	atLeast(`vigilo_pings_total{kind="start"}`, 1)
	atLeast(`vigilo_pings_total{kind="fail"}`, 0)
	atLeast(`vigilo_flips_total{to="up"}`, 1)
	atLeast(`vigilo_flips_total{to="down"}`, 1)
	atLeast(`vigilo_ping_requests_total{code="200",dialect="healthchecks"}`, 2)
	atLeast(`vigilo_ping_requests_total{code="404",dialect="healthchecks"}`, 1)
	atLeast(`vigilo_ping_requests_total{code="404",dialect="betteruptime"}`, 1)
	atLeast(`vigilo_ping_handling_seconds_count{dialect="healthchecks"}`, 3)
	atLeast(`vigilo_deadline_lateness_seconds_count`, 1)
	atLeast(`vigilo_actor_commit_seconds_count`, 3)
	atLeast(`vigilo_actor_spawns_total`, 1)
	atLeast(`vigilo_actors`, 0)
	atLeast(`vigilo_actor_messages_pending`, 0)
	atLeast(`vigilo_wheel_timers`, 0)
	atLeast(`vigilo_store_commits_total`, 3)
	atLeast(`vigilo_store_syncs_total`, 1)
	atLeast(`vigilo_store_batched_ops_total`, 3)
	atLeast(`vigilo_pebble_wal_written_bytes_total`, 1)
	atLeast(`vigilo_pebble_read_amplification`, 0)
	atLeast(`vigilo_pebble_compactions_running`, 0)
	atLeast(`vigilo_pebble_block_cache_hits_total`, 0)
	atLeast(`vigilo_pebble_memtable_bytes`, 1)
	atLeast(`go_goroutines`, 1)
	atLeast(`process_resident_memory_bytes`, 1)
	// A deadline fires at most a tick late (10 ms), plus scheduling slack.
	if n, sum := sample(t, text, `vigilo_deadline_lateness_seconds_count`), sample(t, text, `vigilo_deadline_lateness_seconds_sum`); n > 0 && sum/n > 1 {
		t.Errorf("mean deadline lateness %.3fs, want ≤ 1s", sum/n)
	}
	if strings.Contains(text, c.UUID) {
		t.Errorf("the exposition names a check: per-check series")
	}
}

func TestMetricsListen(t *testing.T) {
	addr := freeAddr(t)
	s := start(t, "", "--metrics-listen", addr)
	text := scrape(t, "http://"+addr)
	sample(t, text, `vigilo_checks`)
	promtoolCheck(t, text)
	if code, _ := call(t, "GET", s.url+"/metrics", nil, ""); code != 404 {
		t.Fatalf("/metrics on the main listener with --metrics-listen: %d, want 404", code)
	}
}

// TestPrometheusScrapes runs a real Prometheus server (Debian's prometheus package)
// scraping vigilo on loopback and reads a series back through its HTTP API.
func TestPrometheusScrapes(t *testing.T) {
	path, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (Debian package prometheus; `make tools` installs it): %v", err)
	}
	s := start(t, "")
	s.create(apiKey, `{"name": "scraped", "timeout": 60, "grace": 60}`)

	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: vigilo
    static_configs:
      - targets: [%q]
`, s.addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	var out syncBuffer
	cmd := exec.Command(path, "--config.file", config, "--storage.tsdb.path", filepath.Join(dir, "tsdb"),
		"--web.listen-address", promAddr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	query := "http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(`vigilo_checks{job="vigilo"}`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var answer struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if resp, err := http.Get(query); err == nil {
			err = json.NewDecoder(resp.Body).Decode(&answer)
			resp.Body.Close()
			if err == nil && answer.Status == "success" && len(answer.Data.Result) == 1 {
				if v, _ := answer.Data.Result[0].Value[1].(string); v != "1" {
					t.Fatalf("vigilo_checks read back as %v, want 1", answer.Data.Result[0].Value[1])
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not return vigilo_checks within 30s; its log:\n%s", out.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Probe and notification metrics are exported by type and kind; the per-monitor
// blackbox_exporter family appears only with --per-monitor-metrics.
func TestMetricsProbesAndNotifications(t *testing.T) {
	t.Parallel()
	target := newReceiver(t)
	for _, perMonitor := range []bool{false, true} {
		var s *server
		if perMonitor {
			s = start(t, "", "--per-monitor-metrics")
		} else {
			s = start(t, "")
		}
		var created struct{ Data struct{ ID string } }
		s.bu("POST", "/api/v2/monitors", apiKey, fmt.Sprintf(`{"url": %q, "monitor_type": "status", "check_frequency": 1}`,
			target.srv.URL+"/probe"), 201, &created)
		deadline := time.Now().Add(15 * time.Second)
		var text string
		for {
			text = scrape(t, s.url)
			if strings.Contains(text, `vigilo_probes_total{result="up",type="status"}`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no probe counted:\n%s", text)
			}
			time.Sleep(50 * time.Millisecond)
		}
		promtoolCheck(t, text)
		if got := strings.Contains(text, "probe_success{"); got != perMonitor {
			t.Errorf("per-monitor probe_success exported %v, want %v", got, perMonitor)
		}
		for _, family := range []string{"vigilo_probe_duration_seconds_bucket", "vigilo_notifications_pending", "vigilo_checks_by_status"} {
			if !strings.Contains(text, family) {
				t.Errorf("%s missing", family)
			}
		}
	}
}
