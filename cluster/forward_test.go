package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/bytebufferpool"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine"
)

// leaderAndFollower is the leader of the cluster's one shard and a node
// that is not.
func leaderAndFollower(t *testing.T, nodes []*Node) (lead, follow *Node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if h := n.Health(); len(h.Led) == 1 {
				lead = n
			}
		}
		if lead != nil {
			for _, n := range nodes {
				if n != lead && n.raft.Leader(0) == lead.o.ID {
					return lead, n
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader with its engine running, known to a follower")
	return nil, nil
}

func apiOf(n *Node) string { return "http://" + n.o.Peers[n.o.ID].API }

// A request through a node that does not lead its shard is answered as if
// the leader had been asked: bodies both ways, HEAD, an answer larger than
// any buffer on the way, many at once over one connection.
func TestForwardAnswersAsTheLeader(t *testing.T) {
	nodes := startNodes(t, 3, 1)
	lead, follow := leaderAndFollower(t, nodes)
	front := apiOf(follow)

	code, c := call(t, "POST", front+"/api/v3/checks/", "operator-key", map[string]any{"name": "fwd", "timeout": 60, "grace": 60})
	if code != 201 {
		t.Fatalf("create through a follower: %d %v", code, c)
	}
	id := c["uuid"].(string)

	resp, err := http.Post(front+"/ping/"+id, "text/plain", strings.NewReader("forwarded body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ping with a body through a follower: %s", resp.Status)
	}
	req, _ := http.NewRequest("HEAD", front+"/ping/"+id, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("HEAD ping through a follower: %s, %d body bytes", resp.Status, len(b))
	}
	// The body went through to the leader's ping log, and comes back.
	if code, b := pingBody(t, front, id, 1); code != 200 || b != "forwarded body" {
		t.Fatalf("ping body through a follower: %d %q", code, b)
	}

	// A body sent with Expect: 100-continue reaches the leader too: the
	// frame carries it whole, so the leader must not wait for a Continue.
	req, _ = http.NewRequest("POST", front+"/ping/"+id, strings.NewReader("expected body"))
	req.Header.Set("Expect", "100-continue")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ping with Expect: 100-continue through a follower: %s", resp.Status)
	}
	code, pl := call(t, "GET", front+"/api/v3/checks/"+id+"/pings/", "operator-key", nil)
	logged, _ := pl["pings"].([]any)
	if code != 200 || len(logged) != 3 {
		t.Fatalf("pings through a follower: %d %v", code, pl)
	}
	last := 0.0
	for _, p := range logged {
		p := p.(map[string]any)
		last = max(last, p["n"].(float64))
		if p["scheme"] != "http" {
			t.Errorf("a forwarded ping logged with scheme %v, want the client's http", p["scheme"])
		}
	}
	if code, b := pingBody(t, front, id, int(last)); code != 200 || b != "expected body" {
		t.Fatalf("the body of a ping sent with Expect: 100-continue: %d %q", code, b)
	}

	// Many at once: all answered, over one connection per forwarding peer.
	before := testutil.ToFloat64(follow.m.forwarded)
	const pings = 300
	var wg sync.WaitGroup
	errs := make(chan string, pings)
	for range pings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(front + "/ping/" + id)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- resp.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a concurrent ping through a follower: %s", e)
	}
	if got := testutil.ToFloat64(follow.m.forwarded) - before; got != pings {
		t.Fatalf("the follower counted %v forwarded requests, want %d", got, pings)
	}
	lead.fwd.mu.Lock()
	served := len(lead.fwd.served)
	lead.fwd.mu.Unlock()
	if served != 1 {
		t.Fatalf("the leader serves %d forwarding connections, want the follower's one", served)
	}

	// An answer larger than the framing's buffers.
	for i := range 150 {
		if code, c := call(t, "POST", apiOf(lead)+"/api/v3/checks/", "operator-key", map[string]any{"name": fmt.Sprintf("bulk-%03d", i), "desc": strings.Repeat("d", 400)}); code != 201 {
			t.Fatalf("create: %d %v", code, c)
		}
	}
	code, l := call(t, "GET", front+"/api/v3/checks/", "operator-key", nil)
	if list, _ := l["checks"].([]any); code != 200 || len(list) != 151 {
		t.Fatalf("list through a follower: %d, %d checks, want 151", code, len(list))
	}
}

// pingBody is the body of the check's ping n, read through api.
func pingBody(t *testing.T, api, id string, n int) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v3/checks/%s/pings/%d/body", api, id, n), nil)
	req.Header.Set("X-Api-Key", "operator-key")
	return send(t, req)
}

// A forwarding connection that breaks is dialled again by the next
// request.
func TestForwardRedialsABrokenConnection(t *testing.T) {
	nodes := startNodes(t, 3, 1)
	lead, follow := leaderAndFollower(t, nodes)
	code, c := call(t, "POST", apiOf(lead)+"/api/v3/checks/", "operator-key", map[string]any{"name": "r", "timeout": 60, "grace": 60})
	if code != 201 {
		t.Fatalf("create: %d %v", code, c)
	}
	ping := func() int {
		resp, err := http.Get(apiOf(follow) + "/ping/" + c["uuid"].(string))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for round := range 3 {
		if code := ping(); code != 200 {
			t.Fatalf("round %d: ping through the follower: %d", round, code)
		}
		lead.fwd.mu.Lock()
		for sock := range lead.fwd.served {
			sock.Close()
		}
		lead.fwd.mu.Unlock()
		// The follower learns of it when its reader sees the close.
		deadline := time.Now().Add(10 * time.Second)
		for {
			follow.fwd.mu.Lock()
			fc := follow.fwd.conns[lead.o.Peers[lead.o.ID].Raft]
			follow.fwd.mu.Unlock()
			select {
			case <-fc.dead:
			default:
				if time.Now().After(deadline) {
					t.Fatal("the follower did not see its connection close")
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
			break
		}
	}
}

// A request still queued when its connection breaks never reached the
// peer, and may be sent again whatever its method; one the writer took
// may have.
func TestForwardKnowsWhatLeft(t *testing.T) {
	for _, write := range []bool{false, true} {
		t.Run(fmt.Sprint("written=", write), func(t *testing.T) {
			mine, peer := net.Pipe()
			fc := newFwdConn(mine)
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Add(1)
			go func() {
				defer wg.Done()
				fc.readAnswers(bufio.NewReader(mine))
			}()
			if write {
				wg.Add(1)
				go func() {
					defer wg.Done()
					fc.writeLoop()
				}()
			}
			req := fasthttp.AcquireRequest()
			defer fasthttp.ReleaseRequest(req)
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://vigilo/ping/x")
			req.SetBodyString("body")
			type result struct {
				sent bool
				err  error
			}
			done := make(chan result, 1)
			go func() {
				var resp fasthttp.Response
				sent, err := fc.roundTrip(req, &resp, time.Minute, nil)
				done <- result{sent, err}
			}()
			if write {
				// The peer reads the whole frame, then dies unanswering.
				if _, _, err := readFrame(bufio.NewReader(peer)); err != nil {
					t.Fatal(err)
				}
			} else {
				for len(fc.out) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			peer.Close()
			r := <-done
			if !errors.Is(r.err, errForwardGone) || r.sent != write {
				t.Fatalf("roundTrip = %v, %v; want sent=%v and the connection gone", r.sent, r.err, write)
			}
		})
	}
}

// The forwarding path takes only the cluster's own, upgraded, connections.
func TestForwardPathRefusesOthers(t *testing.T) {
	addr := freeAddr(t)
	n, err := Open(Options{ID: 1, Peers: map[uint64]Peer{1: {Raft: addr, API: freeAddr(t)}}, Shards: 1, Secret: "s3cret",
		Engine: engine.Options{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, tc := range []struct {
		name string
		f    *forwarder
		want string
	}{
		{"no secret", newForwarder(nil, "", nil), "answered 401"},
		{"wrong secret", newForwarder([]byte("Bearer nope"), "", nil), "answered 401"},
	} {
		_, err := tc.f.conn(addr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		tc.f.close()
	}
	// Not upgraded: a plain POST is told what the path takes.
	req, _ := http.NewRequest("POST", "http://"+addr+ForwardPath, nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a POST without the upgrade: %s, want 400", resp.Status)
	}
	// With the secret, the connection is taken.
	f := newForwarder([]byte("Bearer s3cret"), "", nil)
	defer f.close()
	if _, err := f.conn(addr); err != nil {
		t.Fatalf("with the secret: %v", err)
	}
}

// A peer that stops reading holds no request past its own timeout, even
// the ones that find the queue full behind the stuck write.
func TestForwardToAStuckPeerTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mine, peer := net.Pipe() // peer never reads: the writer blocks
		defer peer.Close()
		fc := newFwdConn(mine)
		defer fc.fail()
		go fc.writeLoop()
		const timeout = time.Second
		start := time.Now()
		var wg sync.WaitGroup
		// Held at most: the queue, and what the stuck writer took into its
		// 64 KiB buffer before its write blocked.
		probe := fasthttp.AcquireRequest()
		probe.SetRequestURI("http://vigilo/ping/x")
		f, err := frame(1, probe.Write)
		fasthttp.ReleaseRequest(probe)
		if err != nil {
			t.Fatal(err)
		}
		held := cap(fc.out) + (64<<10)/len(f.B) + 1
		n := held + 50
		results := make(chan bool, n) // sent
		for range n {
			wg.Go(func() {
				req := fasthttp.AcquireRequest()
				defer fasthttp.ReleaseRequest(req)
				req.SetRequestURI("http://vigilo/ping/x")
				var resp fasthttp.Response
				sent, err := fc.roundTrip(req, &resp, timeout, nil)
				if err == nil {
					t.Error("a request to a peer that does not read was answered")
				}
				results <- sent
			})
		}
		wg.Wait()
		if took := time.Since(start); took >= forwardTimeout {
			t.Fatalf("the requests returned after %v: held until the write broke (%v), not by their own timeout (%v)", took, forwardTimeout, timeout)
		}
		close(results)
		unsent := 0
		for sent := range results {
			if !sent {
				unsent++
			}
		}
		// The rest never left, and say so.
		if unsent < n-held {
			t.Fatalf("%d requests said they were not sent, want at least %d", unsent, n-held)
		}
		// The stuck write breaks the connection, so that the next request
		// dials again.
		select {
		case <-fc.dead:
		case <-time.After(2 * forwardTimeout):
			t.Fatal("the connection to a peer that does not read is never broken")
		}
	})
}

// A forwarded request's handler has no connection of its own: what it
// writes or sets there cannot reach the link that every request in flight
// shares, which keeps working.
func TestForwardedHandlerCannotTouchTheLink(t *testing.T) {
	var wrote, deadline error
	fc := framedLink(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/meddle" {
			_, wrote = ctx.Conn().Write([]byte("\x00\x00\x00\x05garbage"))
			deadline = ctx.Conn().SetWriteDeadline(time.Now())
		}
		ctx.SetBodyString("OK")
	})
	for _, path := range []string{"/meddle", "/after"} {
		req := fasthttp.AcquireRequest()
		req.SetRequestURI("http://vigilo" + path)
		var resp fasthttp.Response
		_, err := fc.roundTrip(req, &resp, 10*time.Second, nil)
		fasthttp.ReleaseRequest(req)
		if err != nil || string(resp.Body()) != "OK" {
			t.Fatalf("%s over the link: %v %q", path, err, resp.Body())
		}
	}
	if wrote == nil || deadline == nil {
		t.Fatalf("the handler wrote to the link (%v) and set its deadline (%v)", wrote, deadline)
	}
}

// A context a handler hijacked is not handed to the next forwarded
// request: fasthttp's own reset, which would clear it, is not ours to call.
func TestHijackedFrameContextIsNotReused(t *testing.T) {
	addrs := &frameConn{}
	frameOf := func(path string) *bytebufferpool.ByteBuffer {
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		req.SetRequestURI("http://vigilo" + path)
		f, err := frame(1, req.Write)
		if err != nil {
			t.Fatal(err)
		}
		f.B = f.B[frameHeader:] // the payload, as readFrame gives it
		return f
	}
	var hijacked bool
	for _, path := range []string{"/hijack", "/next"} {
		_, err := answer(1, frameOf(path), addrs, func(ctx *fasthttp.RequestCtx) {
			if path == "/hijack" {
				ctx.Hijack(func(net.Conn) {})
				return
			}
			hijacked = ctx.Hijacked()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if hijacked {
		t.Fatal("the next forwarded request got the hijacked context")
	}
}
