package engine

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/vigilo/vigilo/engine/store"
)

// A shard's engine makes only ids and keys its Owns accepts: a cluster
// routes a request by hashing them, so one it does not own would be sent
// to another shard, where nothing knows it.
func TestOwnsPlacesIDsAndKeys(t *testing.T) {
	other := (DefaultProjectID[0] + 1) % 4
	owns := func(b []byte) bool { return b[0]%4 == other }
	e := openTestWith(t, t.TempDir(), &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}, time.Minute, func(o *Options) {
		o.Owns = owns
		o.APIKey, o.ReadOnlyKey = "", ""
	})
	defer e.Close()
	if e.BootstrapKeys != nil {
		t.Fatal("bootstrapped the default project, whose id it does not own")
	}
	for range 20 {
		k, err := e.CreateProject("p")
		if err != nil {
			t.Fatal(err)
		}
		ah, rh := sha256.Sum256([]byte(k.APIKey)), sha256.Sum256([]byte(k.ReadOnlyKey))
		if !owns(k.Project.ID[:]) || !owns(ah[:]) || !owns(rh[:]) || !owns([]byte(k.Project.PingKey)) {
			t.Fatalf("made a project it does not own: %+v", k)
		}
		if k, err = e.RotateKeys(k.Project.ID); err != nil {
			t.Fatal(err)
		}
		if ah := sha256.Sum256([]byte(k.APIKey)); !owns(ah[:]) {
			t.Fatalf("rotated to a key it does not own: %s", k.APIKey)
		}
		c, _, err := e.CreateCheck(k.Project.ID, store.Match{}, func(*store.Check) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !owns(c.ID[:]) {
			t.Fatalf("made check %s, which it does not own", c.ID)
		}
	}
}

// The engine that owns the default project's id bootstraps it, with keys
// it owns.
func TestOwnsBootstrapsInItsShard(t *testing.T) {
	owns := func(b []byte) bool { return b[0] == DefaultProjectID[0] || b[0]%2 == 0 }
	e := openTestWith(t, t.TempDir(), &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}, time.Minute, func(o *Options) {
		o.Owns = owns
		o.APIKey, o.ReadOnlyKey = "", ""
	})
	defer e.Close()
	k := e.BootstrapKeys
	if k == nil {
		t.Fatal("did not bootstrap the default project, whose id it owns")
	}
	if h := sha256.Sum256([]byte(k.APIKey)); !owns(h[:]) || !owns([]byte(k.Project.PingKey)) {
		t.Fatalf("bootstrapped keys it does not own: %+v", k)
	}
}
