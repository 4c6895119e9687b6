package cluster

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigilo/vigilo/engine"
)

// send makes req and returns its status and body.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// singleNodeDir is a data directory a single node made.
func singleNodeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	e, err := engine.Open(engine.Options{DataDir: dir, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A single node's data directory cannot become a cluster node's: its data
// would stay on that node alone.
func TestRefusesSingleNodeData(t *testing.T) {
	dir := singleNodeDir(t)
	o := Options{ID: 1, Peers: map[uint64]Peer{1: {Raft: freeAddr(t), API: freeAddr(t)}}, Engine: engine.Options{DataDir: dir}}
	n, err := Open(o)
	if err == nil {
		n.Close()
		t.Fatal("a single node's data directory was taken")
	}
	if !strings.Contains(err.Error(), "single node's data") {
		t.Fatalf("error %q does not say why", err)
	}
	// An empty one is taken, and a restart on it too.
	o.Engine.DataDir = t.TempDir()
	for range 2 {
		n, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A node started with another shard count is refused on every path of the
// cluster listener, so that it never joins a cluster whose nodes would
// hash requests to different shards.
func TestRefusesPeersOfAnotherShardCount(t *testing.T) {
	addr := freeAddr(t)
	n, err := Open(Options{ID: 1, Peers: map[uint64]Peer{1: {Raft: addr, API: freeAddr(t)}}, Shards: 2,
		Engine: engine.Options{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	post := func(path, shards string) (int, string) {
		body := "" // no raft messages
		if path == MembersPath {
			body = `{"id": 9, "raft": "127.0.0.1:1", "api": "127.0.0.1:2"}`
		}
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
		if shards != "" {
			req.Header.Set(shardsHeader, shards)
		}
		return send(t, req)
	}
	for _, shards := range []string{"3", "1", "x"} {
		for _, path := range []string{RaftPath, MembersPath} {
			code, body := post(path, shards)
			if code != http.StatusPreconditionFailed || !strings.Contains(body, "--cluster-shards") {
				t.Errorf("POST %s from a node of %q shards: %d %q, want 412 naming --cluster-shards", path, shards, code, body)
			}
		}
		if _, err := newForwarder(nil, shards, nil).conn(addr); err == nil || !strings.Contains(err.Error(), "412") {
			t.Errorf("forwarding from a node of %q shards: %v, want refused with 412", shards, err)
		}
	}
	// The same count, or none (an operator's own call), is taken.
	for _, shards := range []string{"2", ""} {
		if code, body := post(RaftPath, shards); code != http.StatusNoContent {
			t.Errorf("raft POST with shards %q: %d %q, want 204", shards, code, body)
		}
	}
	f := newForwarder(nil, "2", nil)
	defer f.close()
	if _, err := f.conn(addr); err != nil {
		t.Errorf("forwarding from a node of the same count: %v", err)
	}
	if got := testutil.ToFloat64(n.m.shardMismatch); got != 9 {
		t.Errorf("refusals counted: %v, want 9", got)
	}
}
