package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The front door at scale: thousands of checks created through each dialect's
// real HTTP API by concurrent clients, then deleted in part, across a graceful
// restart and a kill -9. What is asserted is what the indexes answer: unique
// matching, Opsgenie's name conflicts, Better Uptime's numbers and pages, the
// Healthchecks.io tag and slug filters.

// scaleN is how many checks each dialect creates: VIGILO_E2E_SCALE_N, else
// 20,000 (2,000 with -short).
func scaleN(t *testing.T) int {
	if v := os.Getenv("VIGILO_E2E_SCALE_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("VIGILO_E2E_SCALE_N=%q: want a number ≥ 100", v)
		}
		return n
	}
	if testing.Short() {
		return 2000
	}
	return 20000
}

// scaleClient keeps a connection per worker, as a provisioning backend would.
var scaleClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
}

// send is a request safe to make from any goroutine: errors are returned, not
// reported, since only the test's goroutine may fail it.
func send(method, url string, headers map[string]string, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := scaleClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read: %w", method, url, err)
	}
	return resp.StatusCode, b, nil
}

// expect sends a request and decodes the answer into out, erring on any status
// but want.
func expect(method, url string, headers map[string]string, body string, want int, out any) error {
	code, b, err := send(method, url, headers, body)
	if err != nil {
		return err
	}
	if code != want {
		return fmt.Errorf("%s %s %s: status %d, want %d: %s", method, url, body, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode %q: %w", method, url, b, err)
		}
	}
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop the others early
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

var (
	hcAuth = map[string]string{"X-Api-Key": apiKey}
	ogAuth = map[string]string{"Authorization": "GenieKey " + apiKey}
	buAuth = map[string]string{"Authorization": "Bearer " + apiKey}
)

// scaleState is what the test knows the node holds.
type scaleState struct {
	hc      []string       // uuid of hc-i, "" once deleted
	ogAlive []bool         // og-i exists
	bu      []string       // Better Uptime id of bu-i, "" once deleted
	buPos   map[string]int // creation position of each live Better Uptime id
	race    []string       // names created by racing Opsgenie clients: one winner each
}

func TestScaleThroughEachDialect(t *testing.T) {
	t.Parallel()
	n := scaleN(t)
	s := start(t, "")
	st := &scaleState{hc: make([]string, n), ogAlive: make([]bool, n), bu: make([]string, n), buPos: map[string]int{}}
	const workers = 32

	began := time.Now()
	// Healthchecks.io: every create asks for a unique name, as provisioning code
	// that may retry does; tags put each check in one of ten groups.
	if err := parallel(n, workers, func(i int) error {
		var c check
		body := fmt.Sprintf(`{"name": "hc-%d", "slug": "hc-%d", "tags": "scale g%d", "timeout": %d, "grace": 60, "unique": ["name"]}`,
			i, i, i%10, 60+i%7)
		if err := expect("POST", s.url+"/api/v3/checks/", hcAuth, body, 201, &c); err != nil {
			return err
		}
		st.hc[i] = c.UUID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Opsgenie, with every tenth name also raced by eight clients at once.
	var raced sync.Map
	if err := parallel(n, workers, func(i int) error {
		body := fmt.Sprintf(`{"name": "og-%d", "interval": %d, "intervalUnit": "minutes", "enabled": true}`, i, 1+i%5)
		if err := expect("POST", s.url+"/v2/heartbeats", ogAuth, body, 201, nil); err != nil {
			return err
		}
		st.ogAlive[i] = true
		if i%(n/10) != 0 {
			return nil
		}
		name := fmt.Sprintf("race-%d", i)
		var wins, conflicts atomic.Int32
		err := parallel(8, 8, func(int) error {
			code, b, err := send("POST", s.url+"/v2/heartbeats", ogAuth,
				`{"name": "`+name+`", "interval": 2, "intervalUnit": "minutes", "enabled": true}`)
			switch {
			case err != nil:
				return err
			case code == 201:
				wins.Add(1)
			case code == 409 && strings.Contains(string(b), `"message":"Heartbeat with name [`+name+`] already exists."`):
				conflicts.Add(1)
			default:
				return fmt.Errorf("racing create of %s: %d %s", name, code, b)
			}
			return nil
		})
		if err == nil && (wins.Load() != 1 || conflicts.Load() != 7) {
			err = fmt.Errorf("racing create of %s: %d won, %d conflicted; want 1 and 7", name, wins.Load(), conflicts.Load())
		}
		raced.Store(name, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	raced.Range(func(k, _ any) bool { st.race = append(st.race, k.(string)); return true })
	// Better Uptime.
	if err := parallel(n, workers, func(i int) error {
		var r struct{ Data buResource }
		body := fmt.Sprintf(`{"name": "bu-%d", "period": %d, "grace": 60}`, i, 60+i%9)
		if err := expect("POST", s.url+"/api/v2/heartbeats", buAuth, body, 201, &r); err != nil {
			return err
		}
		st.bu[i] = r.Data.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, id := range st.bu {
		st.buPos[id] = i
	}
	t.Logf("created %d checks through each dialect (and 80 racing Opsgenie creates of 10 names) in %v", n, time.Since(began).Round(time.Millisecond))

	st.verify(t, s, "after the creates")

	// Delete every fifth check of each dialect, by its own id.
	if err := parallel(n/5, workers, func(j int) error {
		i := j * 5
		if err := expect("DELETE", s.url+"/api/v3/checks/"+st.hc[i], hcAuth, "", 200, nil); err != nil {
			return err
		}
		st.hc[i] = ""
		if err := expect("DELETE", fmt.Sprintf("%s/v2/heartbeats/og-%d", s.url, i), ogAuth, "", 200, nil); err != nil {
			return err
		}
		st.ogAlive[i] = false
		return expect("DELETE", s.url+"/api/v2/heartbeats/"+st.bu[i], buAuth, "", 204, nil)
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 5 {
		delete(st.buPos, st.bu[i])
		st.bu[i] = ""
	}
	st.verify(t, s, "after the deletes")

	s.stop()
	s.restart()
	st.verify(t, s, "after a graceful restart")
	st.recreate(t, s)

	s.kill9()
	s.restart()
	st.verify(t, s, "after kill -9")
}

// verify asserts, through each dialect, what the indexes must answer. It checks
// a sample of each kind of question, plus every Better Uptime page in full.
func (st *scaleState) verify(t *testing.T, s *server, when string) {
	t.Helper()
	n := len(st.hc)
	sample := func(i int) int { return (i * 7919) % n } // spread over the whole range
	// Healthchecks.io: unique by name finds the existing check (200, same uuid)
	// and a deleted one is created again (201) — then deleted, to keep the state.
	if err := parallel(200, 16, func(j int) error {
		i := sample(j)
		var c check
		body := fmt.Sprintf(`{"name": "hc-%d", "unique": ["name"]}`, i)
		if st.hc[i] == "" {
			return nil // recreated by recreate, once
		}
		if err := expect("POST", s.url+"/api/v3/checks/", hcAuth, body, 200, &c); err != nil {
			return err
		}
		if c.UUID != st.hc[i] {
			return fmt.Errorf("%s: unique name hc-%d matched %s, want %s", when, i, c.UUID, st.hc[i])
		}
		// Unique by timeout and grace as well as name: the same check, since its
		// timeout and grace are what it was created with.
		body = fmt.Sprintf(`{"name": "hc-%d", "timeout": %d, "grace": 60, "unique": ["name", "timeout", "grace"]}`, i, 60+i%7)
		if err := expect("POST", s.url+"/api/v3/checks/", hcAuth, body, 200, &c); err != nil {
			return err
		}
		if c.UUID != st.hc[i] {
			return fmt.Errorf("%s: unique name+timeout+grace hc-%d matched %s, want %s", when, i, c.UUID, st.hc[i])
		}
		var byID check
		if err := expect("GET", s.url+"/api/v3/checks/"+st.hc[i], hcAuth, "", 200, &byID); err != nil {
			return err
		}
		if byID.Name != fmt.Sprintf("hc-%d", i) {
			return fmt.Errorf("%s: check %s is named %q, want hc-%d", when, st.hc[i], byID.Name, i)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The slug filter answers exactly the live check.
	for j := range 50 {
		i := sample(j)
		var l struct{ Checks []check }
		s.api("GET", fmt.Sprintf("/api/v3/checks/?slug=hc-%d", i), apiKey, "", 200, &l)
		want := 0
		if st.hc[i] != "" {
			want = 1
		}
		if len(l.Checks) != want || (want == 1 && l.Checks[0].UUID != st.hc[i]) {
			t.Fatalf("%s: slug hc-%d lists %+v, want %d check %s", when, i, l.Checks, want, st.hc[i])
		}
	}
	// The tag filter: every live check of group g3, and no other.
	var tagged struct{ Checks []check }
	s.api("GET", "/api/v3/checks/?tag=g3", apiKey, "", 200, &tagged)
	var got, want []string
	for _, c := range tagged.Checks {
		got = append(got, c.UUID)
	}
	for i, id := range st.hc {
		if id != "" && i%10 == 3 {
			want = append(want, id)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s: tag g3 lists %d checks, want %d", when, len(got), len(want))
	}

	// Opsgenie: a live name conflicts (409 in Opsgenie's words), a deleted one is
	// gone (404), every racing name still has exactly its one check.
	if err := parallel(200, 16, func(j int) error {
		i := sample(j)
		name := fmt.Sprintf("og-%d", i)
		if !st.ogAlive[i] {
			code, b, err := send("GET", s.url+"/v2/heartbeats/"+name, ogAuth, "")
			if err == nil && (code != 404 || !strings.Contains(string(b), "Heartbeat with name ["+name+"] does not exist.")) {
				err = fmt.Errorf("%s: deleted %s answers %d %s", when, name, code, b)
			}
			return err
		}
		code, b, err := send("POST", s.url+"/v2/heartbeats", ogAuth, `{"name": "`+name+`", "interval": 3, "intervalUnit": "hours", "enabled": true}`)
		if err == nil && (code != 409 || !strings.Contains(string(b), `"message":"Heartbeat with name [`+name+`] already exists."`)) {
			err = fmt.Errorf("%s: create of live %s answers %d %s", when, name, code, b)
		}
		if err != nil {
			return err
		}
		var r struct{ Data ogHeartbeat }
		if err := expect("GET", s.url+"/v2/heartbeats/"+name, ogAuth, "", 200, &r); err != nil {
			return err
		}
		// The rejected create changed nothing.
		if r.Data.Name != name || r.Data.Interval != 1+i%5 || r.Data.IntervalUnit != "minutes" {
			return fmt.Errorf("%s: %s is %+v", when, name, r.Data)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The whole list: each racing name once, and exactly the live og-i.
	counts := map[string]int{}
	for _, h := range s.og("GET", "/v2/heartbeats", apiKey, "", 200).heartbeats(t) {
		counts[h.Name]++
	}
	for _, name := range st.race {
		if counts[name] != 1 {
			t.Fatalf("%s: racing name %s is listed %d times", when, name, counts[name])
		}
	}
	for i, alive := range st.ogAlive {
		if name := fmt.Sprintf("og-%d", i); counts[name] != map[bool]int{true: 1}[alive] {
			t.Fatalf("%s: %s is listed %d times, alive %v", when, name, counts[name], alive)
		}
	}

	// Better Uptime: every page, oldest first, gives exactly the live heartbeats
	// in creation order among the other dialects' checks; each id answers its own
	// heartbeat.
	name := map[string]int{}
	for i, id := range st.bu {
		if id != "" {
			name[id] = i
		}
	}
	seen := 0
	last := -1
	next := "/api/v2/heartbeats?per_page=250&page=1"
	for pages := 0; next != ""; pages++ {
		if pages > 4*n {
			t.Fatalf("%s: pagination does not end", when)
		}
		var l buList
		s.bu("GET", next, apiKey, "", 200, &l)
		for _, r := range l.Data {
			if !strings.HasPrefix(r.Attributes.Name, "bu-") {
				continue // a check of another dialect, which Better Uptime lists too
			}
			p, ok := st.buPos[r.ID]
			if !ok {
				t.Fatalf("%s: page lists %s (%s), not a live Better Uptime heartbeat", when, r.ID, r.Attributes.Name)
			}
			if i := name[r.ID]; r.Attributes.Name != fmt.Sprintf("bu-%d", i) {
				t.Fatalf("%s: id %s is %q, want bu-%d", when, r.ID, r.Attributes.Name, i)
			}
			if p < last && !concurrentlyCreated(p, last) {
				t.Fatalf("%s: %s (created %dth) listed after the %dth", when, r.Attributes.Name, p, last)
			}
			last = max(last, p)
			seen++
		}
		next = ""
		if l.Pagination.Next != nil {
			next = strings.TrimPrefix(*l.Pagination.Next, s.url)
		}
	}
	if seen != len(st.buPos) {
		t.Fatalf("%s: pages list %d Better Uptime heartbeats, want %d", when, seen, len(st.buPos))
	}
	if err := parallel(200, 16, func(j int) error {
		i := sample(j)
		if st.bu[i] == "" {
			return nil
		}
		var r struct{ Data buResource }
		if err := expect("GET", s.url+"/api/v2/heartbeats/"+st.bu[i], buAuth, "", 200, &r); err != nil {
			return err
		}
		if r.Data.ID != st.bu[i] || r.Data.Attributes.Name != fmt.Sprintf("bu-%d", i) || r.Data.Attributes.Period != 60+i%9 {
			return fmt.Errorf("%s: heartbeat %s is %+v, want bu-%d", when, st.bu[i], r.Data, i)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// concurrentlyCreated says whether two Better Uptime creates could have raced:
// with 32 clients, creates less than a few hundred apart may land in either
// order, and "oldest first" is only defined between creates that did not.
func concurrentlyCreated(a, b int) bool { return b-a < 256 }

// recreate creates the deleted names again, one per dialect's way: a unique
// Healthchecks.io create makes a new check (201), Opsgenie takes the freed name,
// and a new Better Uptime heartbeat gets a number no other heartbeat had.
func (st *scaleState) recreate(t *testing.T, s *server) {
	t.Helper()
	old := map[string]bool{}
	for _, id := range st.bu {
		old[id] = true
	}
	for i := 0; i < len(st.hc) && i < 500; i += 5 {
		var c check
		s.api("POST", "/api/v3/checks/", apiKey,
			fmt.Sprintf(`{"name": "hc-%d", "slug": "hc-%d", "tags": "scale g%d", "timeout": %d, "grace": 60, "unique": ["name"]}`,
				i, i, i%10, 60+i%7), 201, &c)
		st.hc[i] = c.UUID
		s.og("POST", "/v2/heartbeats", apiKey, fmt.Sprintf(`{"name": "og-%d", "interval": %d, "intervalUnit": "minutes", "enabled": true}`, i, 1+i%5), 201)
		st.ogAlive[i] = true
		var r struct{ Data buResource }
		s.bu("POST", "/api/v2/heartbeats", apiKey, fmt.Sprintf(`{"name": "bu-%d", "period": %d, "grace": 60}`, i, 60+i%9), 201, &r)
		if old[r.Data.ID] {
			t.Fatalf("recreated bu-%d got the number %s of an earlier heartbeat", i, r.Data.ID)
		}
		st.bu[i] = r.Data.ID
		st.buPos[r.Data.ID] = len(st.hc) + i // after every earlier create
	}
}
