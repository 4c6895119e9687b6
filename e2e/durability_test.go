package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// kill -9 under ping load: every acknowledged ping, flip and status survives, and a
// check whose deadline passed while the server was down goes down at once.
func TestKill9UnderLoad(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	const nChecks = 20
	ids := make([]string, nChecks)
	for i := range ids {
		ids[i] = s.create(apiKey, fmt.Sprintf(`{"name": "c%d", "timeout": 3600, "grace": 3600}`, i)).UUID
	}
	// One check that will be overdue after the restart, with a down→up history.
	overdue := s.create(apiKey, `{"name": "overdue", "timeout": 2, "grace": 1}`).UUID
	s.ping("/ping/" + overdue + "/fail")
	s.waitStatus(overdue, "down", 5*time.Second)
	lastOK := time.Now() // not after the ping's own time
	s.ping("/ping/" + overdue)
	s.waitStatus(overdue, "up", 5*time.Second)

	acked := make([]atomic.Int64, nChecks)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += 16 {
				k := i % nChecks
				resp, err := hc.Get(s.url + "/ping/" + ids[k])
				if err != nil {
					continue // the server is gone: this ping was not acknowledged
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					acked[k].Add(1)
				}
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond) // load for a while before the kill
	s.kill9()
	cancel()
	wg.Wait()
	var total int64
	for i := range acked {
		total += acked[i].Load()
	}
	if total < 20 { // a floor that proves the load ran, low enough for a loaded CI machine
		t.Fatalf("only %d pings acknowledged before the kill", total)
	}
	time.Sleep(2000 * time.Millisecond) // let the overdue check's deadline pass while down
	s.restart()
	for k, id := range ids {
		var c check
		s.api("GET", "/api/v3/checks/"+id, apiKey, "", 200, &c)
		if int64(c.NPings) < acked[k].Load() || c.Status != "up" {
			t.Fatalf("check %d after kill -9: n_pings %d, acknowledged %d, status %s", k, c.NPings, acked[k].Load(), c.Status)
		}
		var pings struct{ Pings []struct{ N int } }
		s.api("GET", "/api/v3/checks/"+id+"/pings/", apiKey, "", 200, &pings)
		if len(pings.Pings) == 0 || pings.Pings[0].N != c.NPings {
			t.Fatalf("check %d: newest logged ping %v, n_pings %d", k, pings.Pings, c.NPings)
		}
	}
	flips := s.waitFlips(overdue, 3)
	if flips[0].Up != 0 || flips[1].Up != 1 || flips[2].Up != 0 {
		t.Fatalf("overdue check flips after restart: %+v", flips)
	}
	if flips[0].time(t).Before(lastOK.Add(3 * time.Second).Truncate(time.Second)) {
		t.Fatalf("overdue check went down at %s, before its deadline", flips[0].Timestamp)
	}
	t.Logf("%d pings acknowledged before kill -9, all present after restart", total)
}

func TestSecondServerRefuses(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	out, err := exec.Command(binary, "serve", "--listen", freeAddr(t), "--data", s.data, "--api-key", apiKey).CombinedOutput()
	if err == nil {
		t.Fatalf("second server on the same data dir started: %s", out)
	}
	if !strings.Contains(string(out), "in use by another vigilo server") {
		t.Fatalf("second server's message: %s", out)
	}
}

func TestGracefulShutdownAndRestart(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	c := s.create(apiKey, `{"name": "persist", "tags": "t1 t2", "timeout": 600, "grace": 60}`)
	s.ping("/ping/" + c.UUID + "/start")
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s.done; err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.out)
	}
	s.done = nil
	s.restart()
	var got check
	s.api("GET", "/api/v2/checks/"+c.UUID, apiKey, "", 200, &got)
	if got.Name != "persist" || got.Tags != "t1 t2" || got.Timeout != 600 || got.NPings != 1 || got.Started == nil || !*got.Started {
		t.Fatalf("after restart: %+v", got)
	}
}

// The first start without keys makes the default project and prints its keys once.
func TestFirstStartPrintsKeys(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--listen", addr, "--data", data)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "vigilo serving") {
		if time.Now().After(deadline) {
			t.Fatalf("no start: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var key string
	for _, line := range strings.Split(out.String(), "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "api key:"); ok {
			key = strings.TrimSpace(k)
		}
	}
	if len(key) != 32 {
		t.Fatalf("no api key printed: %s", out)
	}
	code, body := call(t, "GET", "http://"+addr+"/api/v3/checks/", map[string]string{"X-Api-Key": key}, "")
	if code != 200 {
		t.Fatalf("printed key: %d %s", code, body)
	}
}
