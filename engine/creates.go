package engine

import (
	"sync"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/engine/store"
)

// Creations that must not duplicate a check (Healthchecks.io's unique, an
// Opsgenie name, a slug provisioned by a ping) are decided per project stripe,
// but committed outside its lock, so that concurrent creations share the
// store's group commits instead of taking turns at one fsync each. Between the
// decision and the commit a creation is in flight: the lookups cannot see it in
// the store yet, so each decision also looks at the creations in flight, and
// one that would have found an in-flight record waits for its commit and
// decides again.
//
// The store lookup itself runs outside the lock too (at 1M checks it is a
// Pebble iterator over every level, and under one project's lock it capped
// Opsgenie creates at 44% of their rate into an empty project). A creation that
// landed while the lookup ran may be invisible to it, so the stripe remembers
// its last landings: when one of them would clash, or more landed than it
// remembers, the lookup is repeated under the lock, as before.

type inFlight struct {
	rec  *store.Check
	done chan struct{}
}

// landedKept is how many of a stripe's latest landings it remembers; with 64
// clients creating in one project, a lookup sees some tens land.
const landedKept = 128

type createStripe struct {
	mu     sync.Mutex
	flying []*inFlight
	// landed counts the stripe's landings; recent[n%landedKept] is the record
	// of the n-th (from 0), for the last landedKept of them.
	landed uint64
	recent [landedKept]*store.Check
}

func (e *Engine) stripe(project uuid.UUID) *createStripe {
	return &e.creating[project[15]%uint8(len(e.creating))]
}

// claim decides a creation of rec in its project. lookup answers whether an
// existing check takes the request instead (found, and its record); clash
// says whether an in-flight record would. If neither, rec is in flight when
// claim returns and the caller must call land once its creation has been
// committed and the check is resident (or has failed).
func (e *Engine) claim(rec *store.Check, clash func(*store.Check) bool,
	lookup func() (store.Check, bool, error)) (found store.Check, ok bool, land func(), err error) {
	st := e.stripe(rec.ProjectID)
	for {
		st.mu.Lock()
		wait := st.clashing(rec.ProjectID, clash)
		since := st.landed
		st.mu.Unlock()
		if wait != nil {
			<-wait
			continue
		}
		// Everything that landed before since is committed and visible here.
		found, ok, err = lookup()
		if err != nil || ok {
			return found, ok, nil, err
		}
		st.mu.Lock()
		if wait := st.clashing(rec.ProjectID, clash); wait != nil {
			st.mu.Unlock()
			<-wait
			continue
		}
		if st.landedSince(since, rec.ProjectID, clash) {
			if found, ok, err = lookup(); err != nil || ok {
				st.mu.Unlock()
				return found, ok, nil, err
			}
		}
		f := &inFlight{rec: rec, done: make(chan struct{})}
		st.flying = append(st.flying, f)
		st.mu.Unlock()
		return store.Check{}, false, func() { st.land(f) }, nil
	}
}

// clashing is the commit to wait for when an in-flight creation of project
// clashes, or nil. The caller holds st.mu.
func (st *createStripe) clashing(project uuid.UUID, clash func(*store.Check) bool) chan struct{} {
	for _, f := range st.flying {
		if f.rec.ProjectID == project && clash(f.rec) {
			return f.done
		}
	}
	return nil
}

// landedSince says whether a creation of project that clashes may have landed
// after the since-th landing: one it remembers clashes, or it no longer
// remembers them all. The caller holds st.mu.
func (st *createStripe) landedSince(since uint64, project uuid.UUID, clash func(*store.Check) bool) bool {
	if st.landed-since > landedKept {
		return true
	}
	for n := since; n < st.landed; n++ {
		if r := st.recent[n%landedKept]; r.ProjectID == project && clash(r) {
			return true
		}
	}
	return false
}

func (st *createStripe) land(f *inFlight) {
	st.mu.Lock()
	for i, g := range st.flying {
		if g == f {
			st.flying[i] = st.flying[len(st.flying)-1]
			st.flying[len(st.flying)-1] = nil
			st.flying = st.flying[:len(st.flying)-1]
			break
		}
	}
	st.recent[st.landed%landedKept] = f.rec
	st.landed++
	st.mu.Unlock()
	close(f.done)
}

// resident says the check exists: the registry has it. Index entries are
// confirmed through it (see oldest).
func (e *Engine) resident(id uuid.UUID) bool { return e.reg.Get(id) != nil }
