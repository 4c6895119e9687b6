package engine

import (
	"sync"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/engine/store"
)

// Creations that must not duplicate a check (Healthchecks.io's unique, an
// Opsgenie name, a slug provisioned by a ping) are decided under their
// project's stripe lock, but committed outside it, so that concurrent creations
// share the store's group commits instead of taking turns at one fsync each.
// Between the decision and the commit a creation is in flight: the lookups
// cannot see it in the store yet, so each decision also looks at the
// creations in flight, and one that would have found an in-flight record waits
// for its commit and decides again.

type inFlight struct {
	rec  *store.Check
	done chan struct{}
}

type createStripe struct {
	mu     sync.Mutex
	flying []*inFlight
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
		var wait chan struct{}
		for _, f := range st.flying {
			if f.rec.ProjectID == rec.ProjectID && clash(f.rec) {
				wait = f.done
				break
			}
		}
		if wait != nil {
			st.mu.Unlock()
			<-wait
			continue
		}
		found, ok, err = lookup()
		if err != nil || ok {
			st.mu.Unlock()
			return found, ok, nil, err
		}
		f := &inFlight{rec: rec, done: make(chan struct{})}
		st.flying = append(st.flying, f)
		st.mu.Unlock()
		return store.Check{}, false, func() { st.land(f) }, nil
	}
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
	st.mu.Unlock()
	close(f.done)
}

// resident says the check exists: the registry has it. Index entries are
// confirmed through it (see oldest).
func (e *Engine) resident(id uuid.UUID) bool { return e.reg.Get(id) != nil }
