package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors"
	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/api/betteruptime"
	"github.com/vigilo/vigilo/api/opsgenie"
	"github.com/vigilo/vigilo/engine/store"
)

// The engine is the backend of the Opsgenie and Better Uptime dialects, as of
// Healthchecks.io's: one model, so a heartbeat made through any of them is one
// check, seen and changed through all three. Authenticate, Checks, DeleteCheck,
// Ping and Status are shared with the other dialects (checks.go, projects.go).
var (
	_ opsgenie.Backend     = (*Engine)(nil)
	_ betteruptime.Backend = (*Engine)(nil)
)

// openDialects makes the Opsgenie and Better Uptime APIs; open calls it.
func (e *Engine) openDialects() error {
	var err error
	e.opsgenie, err = opsgenie.New(e, opsgenie.Options{Periods: e.periods(), Now: e.o.Now})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.betteruptime, err = betteruptime.New(e, betteruptime.Options{
		BaseURL: e.o.BaseURL, Periods: e.periods(),
		BodyLimit: e.o.PingBodyLimit, Now: e.o.Now,
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// CheckByName implements opsgenie.Backend. Names repeat only through the other
// dialects; the oldest check keeps the name, so a later namesake cannot take over
// the pings of a heartbeat Opsgenie clients already use.
func (e *Engine) CheckByName(project uuid.UUID, name string) (store.Check, error) {
	ids, err := e.store.ChecksByName(project, name)
	if err != nil {
		return store.Check{}, fmt.Errorf("find heartbeat %q: %w", name, err)
	}
	return e.oldest(project, ids, func(c *store.Check) bool { return c.Name == name })
}

// CheckByNumber implements betteruptime.Backend.
func (e *Engine) CheckByNumber(project uuid.UUID, n uint64) (store.Check, error) {
	ids, err := e.store.ChecksByNumber(project, n)
	if err != nil {
		return store.Check{}, fmt.Errorf("find heartbeat %d: %w", n, err)
	}
	return e.oldest(project, ids, func(c *store.Check) bool { return store.CheckNumber(c.ID) == n })
}

// oldest is the oldest check of the project among ids that still matches: an
// index entry can outlive its check by a crash in the middle of a project's
// deletion, so each is confirmed against the registry and its record.
func (e *Engine) oldest(project uuid.UUID, ids []uuid.UUID, match func(*store.Check) bool) (store.Check, error) {
	var best store.Check
	found := false
	for _, id := range ids {
		c, err := e.Check(project, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Check{}, err
		}
		if !match(&c) {
			continue
		}
		if !found || c.Created.Before(best.Created) ||
			c.Created.Equal(best.Created) && strings.Compare(c.ID.String(), best.ID.String()) < 0 {
			best, found = c, true
		}
	}
	if !found {
		return store.Check{}, store.ErrNotFound
	}
	return best, nil
}

// CreateNamed implements opsgenie.Backend: a name free in the store and among
// the creations in flight, so two concurrent creations cannot both take it.
func (e *Engine) CreateNamed(project uuid.UUID, name string, paused bool, edit func(*store.Check) error) (store.Check, error) {
	rec, err := e.heartbeat(project, paused, edit)
	if err != nil {
		return store.Check{}, err
	}
	_, taken, land, err := e.claim(&rec, func(c *store.Check) bool { return c.Name == name },
		func() (store.Check, bool, error) {
			c, err := e.CheckByName(project, name)
			if errors.Is(err, store.ErrNotFound) {
				return store.Check{}, false, nil
			}
			return c, err == nil, err
		})
	switch {
	case err != nil:
		return store.Check{}, err
	case taken:
		return store.Check{}, opsgenie.ErrNameTaken
	}
	defer land()
	return e.createHeartbeat(&rec)
}

// CreateHeartbeat implements betteruptime.Backend. Nothing about it has to be
// unique, so it takes no lock.
func (e *Engine) CreateHeartbeat(project uuid.UUID, paused bool, edit func(*store.Check) error) (store.Check, error) {
	rec, err := e.heartbeat(project, paused, edit)
	if err != nil {
		return store.Check{}, err
	}
	return e.createHeartbeat(&rec)
}

// heartbeat is a check from newCheck's defaults changed by edit. A paused
// one is made paused, to be created in the same single write: its state is
// what the state machine's Pause makes of a new check, so it is never briefly
// monitored.
func (e *Engine) heartbeat(project uuid.UUID, paused bool, edit func(*store.Check) error) (store.Check, error) {
	rec := e.newCheck(project)
	if err := edit(&rec); err != nil {
		return store.Check{}, err
	}
	if paused {
		spec, err := heartbeat.Compile(actors.ConfigOf(&rec))
		if err != nil {
			return store.Check{}, fmt.Errorf("create heartbeat: %w", err)
		}
		now := e.o.Now()
		st, _ := heartbeat.Apply(spec, actors.StateOf(&rec), heartbeat.Event{Kind: heartbeat.Pause}, now)
		rec.Status, rec.Deadline = st.Status.String(), st.Deadline
		rec.Dialect = rec.Dialect.Clone()
		rec.Dialect.PausedAt = now.UnixNano()
	}
	return rec, nil
}

func (e *Engine) createHeartbeat(rec *store.Check) (store.Check, error) {
	c, err := e.reg.Create(rec)
	if err != nil {
		return store.Check{}, fmt.Errorf("create heartbeat: %w", err)
	}
	return c, nil
}

// EditCheck implements both dialects' Backend: the configuration change first,
// stamped with when a dialect changed (and paused) the check, then the pause or
// resume, each through the check's actor. Resuming a check that is not paused
// changes nothing: enabling an enabled heartbeat does not restart it.
func (e *Engine) EditCheck(project, id uuid.UUID, paused *bool, edit func(*store.Check) error) (store.Check, error) {
	c, err := e.check(project, id)
	if err != nil {
		return store.Check{}, err
	}
	now := e.o.Now().UnixNano()
	res := e.reg.Update(c, func(rec *store.Check) error {
		if edit != nil {
			if err := edit(rec); err != nil {
				return err
			}
		}
		d := rec.Dialect.Clone()
		d.UpdatedAt = now
		if paused != nil && *paused && rec.Status != heartbeat.Paused.String() {
			d.PausedAt = now
		}
		rec.Dialect = d
		return nil
	})
	if res.Err != nil || paused == nil {
		return res.Check, res.Err
	}
	if *paused {
		res = e.reg.Pause(c)
	} else if res = e.reg.Resume(c); errors.Is(res.Err, actors.ErrNotPaused) {
		res.Err = nil
	}
	return res.Check, res.Err
}
