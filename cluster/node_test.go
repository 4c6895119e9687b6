package cluster

import (
	"net"
	"strings"
	"testing"

	"github.com/vigilo/vigilo/engine"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A single node's data directory cannot become a cluster node's: its data
// would stay on that node alone.
func TestRefusesSingleNodeData(t *testing.T) {
	dir := t.TempDir()
	e, err := engine.Open(engine.Options{DataDir: dir, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
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
