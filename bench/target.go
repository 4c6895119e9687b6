package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// targetAPIWorkers is how many Management API requests are in flight at once while
// the checks of a --target run are created and deleted: enough to overlap round
// trips, few enough not to be a load test of their own.
const targetAPIWorkers = 8

// remote is a running vigilo (or Healthchecks-compatible server) the ingest
// scenario pings instead of an in-process engine.
type remote struct {
	base   *url.URL // scheme://host[:port][/path], no trailing slash
	apiKey string
	client *http.Client
}

func newRemote(rawURL, apiKey string) (*remote, error) {
	u, err := parseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	return &remote{base: u, apiKey: apiKey, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

func parseTarget(rawURL string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return nil, fmt.Errorf("bench: target %q: %w", rawURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bench: target %q is not an http(s)://host[:port][/path] URL", rawURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// hostPort is the target's host:port, the port made explicit as fasthttp needs it.
func (r *remote) hostPort() string {
	if r.base.Port() != "" {
		return r.base.Host
	}
	if r.base.Scheme == "https" {
		return net.JoinHostPort(r.base.Hostname(), "443")
	}
	return net.JoinHostPort(r.base.Hostname(), "80")
}

func (r *remote) pingPrefix() string { return r.base.String() + "/ping/" }

func (r *remote) apiURL(rest string) string { return r.base.String() + "/api/v3/" + rest }

func (r *remote) do(ctx context.Context, method, rest string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.apiURL(rest), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Api-Key", r.apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// createChecks creates n checks through POST /api/v3/checks/, several requests in
// flight, and returns their uuids. Each is a simple check with a day's timeout and
// no channel, so none falls due or alerts during a run; they share a tag that names
// them as the bench's.
func (r *remote) createChecks(ctx context.Context, n int, tag string, progress func(string, ...any)) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, n)
	var next, done atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	stop := everySecond(func(elapsed time.Duration) {
		progress("ingest: target: %d/%d checks created (%.0fs)", done.Load(), n, elapsed.Seconds())
	})
	var wg sync.WaitGroup
	for range min(targetAPIWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				body, err := json.Marshal(map[string]any{
					"name": fmt.Sprintf("%s-%d", tag, i), "tags": tag,
					"timeout": 86400, "grace": 3600, "channels": "",
				})
				if err != nil {
					fail(err)
					return
				}
				code, resp, err := r.do(ctx, http.MethodPost, "checks/", body)
				if err != nil {
					fail(fmt.Errorf("create check %d: %w", i, err))
					return
				}
				if code != http.StatusCreated && code != http.StatusOK {
					fail(fmt.Errorf("create check %d: POST %s answered %d: %s", i, r.apiURL("checks/"), code, truncate(resp, 200)))
					return
				}
				var c struct {
					UUID string `json:"uuid"`
				}
				if err := json.Unmarshal(resp, &c); err != nil {
					fail(fmt.Errorf("create check %d: answer: %w", i, err))
					return
				}
				id, err := uuid.Parse(c.UUID)
				if err != nil {
					fail(fmt.Errorf("create check %d: answer has no uuid (a read-only key?): %s", i, truncate(resp, 200)))
					return
				}
				ids[i] = id
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	if firstErr != nil {
		// What was made is deleted by the caller; hand back the ids made so far.
		var made []uuid.UUID
		for _, id := range ids {
			if id != uuid.Nil {
				made = append(made, id)
			}
		}
		return made, firstErr
	}
	return ids, nil
}

// deleteChecks deletes the checks a run created; it returns how many it could not.
func (r *remote) deleteChecks(ctx context.Context, ids []uuid.UUID) (failed int64, firstErr error) {
	var next, bad atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range min(targetAPIWorkers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				code, resp, err := r.do(ctx, http.MethodDelete, "checks/"+ids[i].String(), nil)
				if err == nil && code != http.StatusOK && code != http.StatusNotFound {
					err = fmt.Errorf("DELETE answered %d: %s", code, truncate(resp, 200))
				}
				if err != nil {
					bad.Add(1)
					once.Do(func() { firstErr = fmt.Errorf("delete check %s: %w", ids[i], err) })
				}
			}
		}()
	}
	wg.Wait()
	return bad.Load(), firstErr
}

func truncate(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// writeIDs writes ids one a line to a new file in dir, for the load generator.
func writeIDs(dir string, ids []uuid.UUID) (string, error) {
	var b bytes.Buffer
	b.Grow(len(ids) * 37)
	for _, id := range ids {
		b.Write(appendUUID(nil, id))
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, "target-checks.txt")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("write check ids: %w", err)
	}
	return path, nil
}

// everySecond calls f once a second until stop is called.
func everySecond(f func(elapsed time.Duration)) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				f(now.Sub(start))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// cpuMeter reads a process's CPU time (user + system): this process's from
// rusage, another's from /proc/<pid>/stat.
type cpuMeter func() (time.Duration, error)

func selfCPUMeter() (time.Duration, error) { return selfCPU(), nil }

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux
// architecture Go supports (sysconf is not reachable without cgo).
const clockTicks = 100

func procCPUMeter(pid int) cpuMeter {
	return func() (time.Duration, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// The command name (field 2) may hold spaces and parentheses: fields are
		// counted from its closing parenthesis.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
		}
		// utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
		ut, err1 := strconv.ParseUint(f[11], 10, 64)
		st, err2 := strconv.ParseUint(f[12], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		return time.Duration(ut+st) * time.Second / clockTicks, nil
	}
}

// listenerPID is the process listening on addr's TCP port, when addr is on this
// machine's loopback and /proc shows it; 0 otherwise (a remote target, whose CPU
// this machine cannot see).
func listenerPID(hostPort string) int {
	host, portStr, err := net.SplitHostPort(hostPort)
	if err != nil {
		return 0
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0
	}
	if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
		return 0
	}
	inodes := map[string]bool{}
	for _, tbl := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(tbl)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 the inode.
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			_, p, ok := strings.Cut(f[1], ":")
			if v, err := strconv.ParseUint(p, 16, 16); ok && err == nil && v == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	if pid := os.Getpid(); holdsSocket(pid, inodes) {
		return pid
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, p := range procs {
		if pid, err := strconv.Atoi(p.Name()); err == nil && holdsSocket(pid, inodes) {
			return pid
		}
	}
	return 0
}

func holdsSocket(pid int, inodes map[string]bool) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && inodes[l] {
			return true
		}
	}
	return false
}
