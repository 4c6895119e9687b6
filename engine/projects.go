package engine

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors"
	"github.com/vigilo/vigilo/api/admin"
	"github.com/vigilo/vigilo/engine/store"
)

// DefaultProjectID is the default project's id; fixed, so the --api-key bootstrap
// finds its project again on every start.
var DefaultProjectID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("vigilo:default-project"))

// projectTable is the in-memory copy of every project and key hash, so
// authentication reads no disk. The store is the truth; this mirrors each commit.
type projectTable struct {
	mu       sync.RWMutex
	byID     map[uuid.UUID]store.Project
	keys     map[[32]byte]keyRef
	pingKeys map[string]uuid.UUID
}

type keyRef struct {
	project uuid.UUID
	role    store.Role
}

func (t *projectTable) put(p store.Project) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unlink(p.ID)
	t.byID[p.ID] = p
	t.keys[p.APIKeyHash] = keyRef{p.ID, store.RoleReadWrite}
	t.keys[p.ReadOnlyKeyHash] = keyRef{p.ID, store.RoleReadOnly}
	t.pingKeys[p.PingKey] = p.ID
}

func (t *projectTable) unlink(id uuid.UUID) {
	if old, ok := t.byID[id]; ok {
		delete(t.keys, old.APIKeyHash)
		delete(t.keys, old.ReadOnlyKeyHash)
		delete(t.pingKeys, old.PingKey)
		delete(t.byID, id)
	}
}

func (e *Engine) loadProjects() error {
	e.projects = projectTable{
		byID:     map[uuid.UUID]store.Project{},
		keys:     map[[32]byte]keyRef{},
		pingKeys: map[string]uuid.UUID{},
	}
	ps, err := e.store.Projects()
	if err != nil {
		return fmt.Errorf("engine: load projects: %w", err)
	}
	for _, p := range ps {
		e.projects.put(*p)
	}
	return e.bootstrap(len(ps) == 0)
}

// bootstrap makes the default project on a first start, and re-keys it when the
// operator passes keys that differ from the stored ones. A key not given keeps its
// stored value, or on a first start is made at random and reported once.
func (e *Engine) bootstrap(empty bool) error {
	if !empty && e.o.APIKey == "" && e.o.ReadOnlyKey == "" {
		return nil
	}
	if e.o.Owns != nil && !e.o.Owns(DefaultProjectID[:]) {
		return nil // another shard's engine holds the default project
	}
	e.projects.mu.RLock()
	p, exists := e.projects.byID[DefaultProjectID]
	e.projects.mu.RUnlock()
	if !exists {
		p = store.Project{ID: DefaultProjectID, Name: "default", Created: e.o.Now().UTC(), PingKey: e.newPingKey()}
	}
	keys := admin.Keys{APIKey: e.o.APIKey, ReadOnlyKey: e.o.ReadOnlyKey}
	made := false
	for _, k := range []struct {
		plain *string
		hash  *[32]byte
	}{{&keys.APIKey, &p.APIKeyHash}, {&keys.ReadOnlyKey, &p.ReadOnlyKeyHash}} {
		if *k.plain == "" && !exists {
			*k.plain, made = e.newAPIKey(), true
		}
		if *k.plain != "" {
			*k.hash = sha256.Sum256([]byte(*k.plain))
		}
	}
	if exists && p == e.mustProject(DefaultProjectID) {
		return nil
	}
	if err := e.saveProject(p, exists); err != nil {
		return err
	}
	if made {
		keys.Project = p
		e.BootstrapKeys = &keys
	}
	return nil
}

func (e *Engine) mustProject(id uuid.UUID) store.Project {
	p, _ := e.Project(id)
	return p
}

func (e *Engine) saveProject(p store.Project, existed bool) error {
	b := e.store.NewBatch()
	if existed {
		e.projects.mu.RLock()
		old := e.projects.byID[p.ID]
		e.projects.mu.RUnlock()
		b.DeleteProjectKeys(&old)
	}
	b.PutProject(&p)
	if err := e.store.Commit(b); err != nil {
		return fmt.Errorf("save project %s: %w", p.ID, err)
	}
	e.projects.put(p)
	return nil
}

// newID is a random id this engine owns (Options.Owns).
func (e *Engine) newID() uuid.UUID {
	for {
		id := uuid.New()
		if e.o.Owns == nil || e.o.Owns(id[:]) {
			return id
		}
	}
}

// newAPIKey is a read-write or read-only key whose hash this engine owns.
func (e *Engine) newAPIKey() string {
	for {
		k := newToken(24)
		if h := sha256.Sum256([]byte(k)); e.o.Owns == nil || e.o.Owns(h[:]) {
			return k
		}
	}
}

// newPingKey is a ping key this engine owns.
func (e *Engine) newPingKey() string {
	for {
		k := newToken(16)
		if e.o.Owns == nil || e.o.Owns([]byte(k)) {
			return k
		}
	}
}

// newToken is n random bytes, base64url: 24 bytes make Healthchecks.io's 32-character keys.
func newToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS has no entropy: nothing is safe to do
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Authenticate implements healthchecks.Backend. Keys are looked up by their SHA-256,
// so no comparison ever touches a plain key; the final compare is constant-time.
func (e *Engine) Authenticate(key string) (uuid.UUID, bool, bool) {
	h := sha256.Sum256([]byte(key))
	e.projects.mu.RLock()
	ref, ok := e.projects.keys[h]
	var p store.Project
	if ok {
		p = e.projects.byID[ref.project]
	}
	e.projects.mu.RUnlock()
	if !ok {
		return uuid.Nil, false, false
	}
	want := p.APIKeyHash
	if ref.role == store.RoleReadOnly {
		want = p.ReadOnlyKeyHash
	}
	if subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
		return uuid.Nil, false, false
	}
	return ref.project, ref.role == store.RoleReadOnly, true
}

func (e *Engine) projectByPingKey(pingKey string) (uuid.UUID, bool) {
	e.projects.mu.RLock()
	defer e.projects.mu.RUnlock()
	id, ok := e.projects.pingKeys[pingKey]
	return id, ok
}

// CreateProject implements admin.Backend.
func (e *Engine) CreateProject(name string) (admin.Keys, error) {
	k := admin.Keys{APIKey: e.newAPIKey(), ReadOnlyKey: e.newAPIKey()}
	k.Project = store.Project{
		ID: e.newID(), Name: name, Created: e.o.Now().UTC(), PingKey: e.newPingKey(),
		APIKeyHash: sha256.Sum256([]byte(k.APIKey)), ReadOnlyKeyHash: sha256.Sum256([]byte(k.ReadOnlyKey)),
	}
	return k, e.saveProject(k.Project, false)
}

// Projects implements admin.Backend.
func (e *Engine) Projects() ([]store.Project, error) {
	ps, err := e.store.Projects()
	if err != nil {
		return nil, err
	}
	out := make([]store.Project, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out, nil
}

// Project implements admin.Backend.
func (e *Engine) Project(id uuid.UUID) (store.Project, error) {
	e.projects.mu.RLock()
	defer e.projects.mu.RUnlock()
	p, ok := e.projects.byID[id]
	if !ok {
		return store.Project{}, store.ErrNotFound
	}
	return p, nil
}

// RotateKeys implements admin.Backend: new read-write and read-only keys; the old
// ones stop working when this returns. The ping key stays, because it is part of
// every slug ping URL already deployed in crontabs.
func (e *Engine) RotateKeys(id uuid.UUID) (admin.Keys, error) {
	p, err := e.Project(id)
	if err != nil {
		return admin.Keys{}, err
	}
	k := admin.Keys{APIKey: e.newAPIKey(), ReadOnlyKey: e.newAPIKey()}
	p.APIKeyHash = sha256.Sum256([]byte(k.APIKey))
	p.ReadOnlyKeyHash = sha256.Sum256([]byte(k.ReadOnlyKey))
	k.Project = p
	return k, e.saveProject(p, true)
}

// DeleteProject implements admin.Backend: the keys stop working first, then every
// check goes through its actor (so its timer is cancelled), then the project's
// records go in one batch.
func (e *Engine) DeleteProject(id uuid.UUID) error {
	e.projects.mu.Lock()
	_, ok := e.projects.byID[id]
	e.projects.unlink(id)
	e.projects.mu.Unlock()
	if !ok {
		return store.ErrNotFound
	}
	var errs []error
	e.reg.Each(func(c *actors.Check) {
		if c.ProjectID() == id {
			if res := e.reg.Delete(c); res.Err != nil && !errors.Is(res.Err, store.ErrNotFound) {
				errs = append(errs, res.Err)
			}
			e.outbox.Forget(c.ID())
		}
	})
	e.monitors.Each(func(m *actors.Monitor) {
		if m.ProjectID() == id {
			if res := e.monitors.Delete(m); res.Err != nil && !errors.Is(res.Err, store.ErrNotFound) {
				errs = append(errs, res.Err)
			}
			e.outbox.Forget(m.ID())
		}
	})
	if err := e.store.DeleteProject(id); err != nil {
		errs = append(errs, err)
	}
	e.outbox.ForgetProject(id)
	return errors.Join(errs...)
}
