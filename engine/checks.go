package engine

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors"
	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/ingest"
)

// newCheck is a check with Healthchecks.io's defaults: simple, one day's timeout,
// one hour's grace.
func (e *Engine) newCheck(project uuid.UUID) store.Check {
	return store.Check{
		ID:        e.newID(),
		ProjectID: project,
		Kind:      "simple",
		Timeout:   24 * time.Hour,
		Grace:     time.Hour,
		Schedule:  "* * * * *",
		TZ:        "UTC",
		Created:   e.o.Now().UTC(),
		Status:    heartbeat.New.String(),
	}
}

// check finds a project's check; another project's is not found, as an unknown one.
func (e *Engine) check(project, id uuid.UUID) (*actors.Check, error) {
	c := e.reg.Get(id)
	if c == nil || c.ProjectID() != project {
		return nil, store.ErrNotFound
	}
	return c, nil
}

// Ping implements ingest.Engine.
func (e *Engine) Ping(id uuid.UUID, ev heartbeat.Event, p store.Ping) error {
	c := e.reg.Get(id)
	if c == nil {
		return ingest.ErrNotFound
	}
	return e.reg.Ping(c, ev, p)
}

// PingSlug implements ingest.Engine.
func (e *Engine) PingSlug(pingKey, slug string, create bool, ev heartbeat.Event, p store.Ping) (bool, error) {
	project, ok := e.projectByPingKey(pingKey)
	if !ok {
		return false, ingest.ErrNotFound
	}
	ids, err := e.residentBySlug(project, slug)
	if err != nil {
		return false, err
	}
	created := false
	if len(ids) == 0 {
		if !create {
			return false, ingest.ErrNotFound
		}
		if ids, created, err = e.provision(project, slug); err != nil {
			return false, err
		}
	}
	if len(ids) > 1 {
		return false, ingest.ErrAmbiguous
	}
	return created, e.Ping(ids[0], ev, p)
}

// residentBySlug is the project's checks slugged slug that are in the
// registry. A check is committed before it is resident, and a lookup outside
// the creation's lock can see it in between, when a ping to it would find
// nothing; left out, it is met in flight by provision instead.
func (e *Engine) residentBySlug(project uuid.UUID, slug string) ([]uuid.UUID, error) {
	ids, err := e.store.ChecksBySlug(project, slug)
	return slices.DeleteFunc(ids, func(id uuid.UUID) bool { return !e.resident(id) }), err
}

// provision makes a check named and slugged slug, unless a concurrent ping made it first.
func (e *Engine) provision(project uuid.UUID, slug string) ([]uuid.UUID, bool, error) {
	rec := e.newCheck(project)
	rec.Name, rec.Slug = slug, slug
	var ids []uuid.UUID
	_, exists, land, err := e.claim(&rec, func(c *store.Check) bool { return c.Slug == slug },
		func() (store.Check, bool, error) {
			var err error
			ids, err = e.residentBySlug(project, slug)
			return store.Check{}, len(ids) > 0, err
		})
	if err != nil || exists {
		return ids, false, err
	}
	defer land()
	if _, err := e.reg.Create(&rec); err != nil {
		return nil, false, err
	}
	return []uuid.UUID{rec.ID}, true, nil
}

// Checks implements opsgenie.Backend: every check of the project.
func (e *Engine) Checks(project uuid.UUID) ([]store.Check, error) {
	var out []store.Check
	err := e.store.ProjectChecks(project, func(c *store.Check) error {
		out = append(out, *c)
		return nil
	})
	return out, err
}

// EachCheck implements healthchecks.Backend. A slug or a tag narrows the
// walk to its index's entries; further tags are checked on each record.
func (e *Engine) EachCheck(project uuid.UUID, slug string, tags []string, fn func(*store.Check) (bool, error)) error {
	hasTags := func(c *store.Check) bool {
		have := store.Tags(c.Tags)
		for _, t := range tags {
			if !slices.Contains(have, t) {
				return false
			}
		}
		return true
	}
	visit := func(c *store.Check) (bool, error) {
		if !e.resident(c.ID) || !hasTags(c) {
			return true, nil
		}
		return fn(c)
	}
	switch {
	case slug != "":
		return e.store.SluggedChecks(project, slug, visit)
	case len(tags) > 0:
		return e.store.TaggedChecks(project, tags[0], visit)
	}
	stop := errors.New("stop")
	err := e.store.ProjectChecks(project, func(c *store.Check) error {
		more, err := fn(c)
		if err == nil && !more {
			err = stop
		}
		return err
	})
	if err == stop {
		err = nil
	}
	return err
}

// ProjectCheckCount implements betteruptime.Backend.
func (e *Engine) ProjectCheckCount(project uuid.UUID) int { return e.reg.ProjectLen(project) }

// CreatedChecks implements betteruptime.Backend.
func (e *Engine) CreatedChecks(project uuid.UUID, skip, limit int) ([]store.Check, error) {
	out := make([]store.Check, 0, min(limit, 256))
	if limit <= 0 {
		return out, nil
	}
	err := e.store.CreatedChecks(project, skip, func(c *store.Check) (bool, error) {
		if e.resident(c.ID) {
			out = append(out, *c)
		}
		return len(out) < limit, nil
	})
	return out, err
}

// CheckByUniqueKey implements healthchecks.Backend.
func (e *Engine) CheckByUniqueKey(project uuid.UUID, key [20]byte) (store.Check, error) {
	ids, err := e.store.ChecksByUniqueKey(project, key)
	if err != nil {
		return store.Check{}, err
	}
	return e.oldest(project, ids, func(c *store.Check) bool { return store.UniqueKey(c.ID) == key })
}

// Check implements healthchecks.Backend.
func (e *Engine) Check(project, id uuid.UUID) (store.Check, error) {
	if _, err := e.check(project, id); err != nil {
		return store.Check{}, err
	}
	c, err := e.store.GetCheck(id)
	if err != nil {
		return store.Check{}, err
	}
	return *c, nil
}

// CreateCheck implements healthchecks.Backend. Without a match there is
// nothing to look up: the create takes no lock and shares group commits with
// every other. With one, the oldest matching check is found from the store's
// lookup indexes (and the creations in flight), not by reading the project.
func (e *Engine) CreateCheck(project uuid.UUID, m store.Match, edit func(*store.Check) error) (store.Check, bool, error) {
	rec := e.newCheck(project)
	if err := edit(&rec); err != nil {
		return store.Check{}, false, err
	}
	if !m.Empty() {
		found, ok, land, err := e.claim(&rec, m.Matches, func() (store.Check, bool, error) {
			c, err := e.store.FindMatch(project, m, e.resident)
			if errors.Is(err, store.ErrNotFound) {
				return store.Check{}, false, nil
			}
			if err != nil {
				return store.Check{}, false, err
			}
			return *c, true, nil
		})
		if err != nil {
			return store.Check{}, false, err
		}
		if ok {
			c, err := e.UpdateCheck(project, found.ID, edit)
			return c, false, err
		}
		defer land()
	}
	c, err := e.reg.Create(&rec)
	return c, err == nil, err
}

func (e *Engine) withCheck(project, id uuid.UUID, do func(*actors.Check) actors.Result) (store.Check, error) {
	c, err := e.check(project, id)
	if err != nil {
		return store.Check{}, err
	}
	res := do(c)
	return res.Check, res.Err
}

// UpdateCheck implements healthchecks.Backend.
func (e *Engine) UpdateCheck(project, id uuid.UUID, edit func(*store.Check) error) (store.Check, error) {
	return e.withCheck(project, id, func(c *actors.Check) actors.Result { return e.reg.Update(c, edit) })
}

// PauseCheck implements healthchecks.Backend.
func (e *Engine) PauseCheck(project, id uuid.UUID) (store.Check, error) {
	return e.withCheck(project, id, e.reg.Pause)
}

// ResumeCheck implements healthchecks.Backend.
func (e *Engine) ResumeCheck(project, id uuid.UUID) (store.Check, bool, error) {
	c, err := e.withCheck(project, id, e.reg.Resume)
	if errors.Is(err, actors.ErrNotPaused) {
		return c, false, nil
	}
	return c, err == nil, err
}

// DeleteCheck implements healthchecks.Backend.
func (e *Engine) DeleteCheck(project, id uuid.UUID) (store.Check, error) {
	c, err := e.withCheck(project, id, e.reg.Delete)
	if err == nil {
		e.outbox.Forget(id)
	}
	return c, err
}

// Pings implements healthchecks.Backend.
func (e *Engine) Pings(project, id uuid.UUID) ([]store.Ping, error) {
	if _, err := e.check(project, id); err != nil {
		return nil, err
	}
	return e.store.Pings(id, e.o.PingLogLimit)
}

// PingBody implements healthchecks.Backend.
func (e *Engine) PingBody(project, id uuid.UUID, n uint64) ([]byte, error) {
	if _, err := e.check(project, id); err != nil {
		return nil, err
	}
	body, err := e.store.PingBody(id, n)
	if err == nil && len(body) == 0 {
		return nil, store.ErrNotFound
	}
	return body, err
}

// Flips implements healthchecks.Backend.
func (e *Engine) Flips(project, id uuid.UUID, from, to time.Time) ([]store.Flip, error) {
	if _, err := e.check(project, id); err != nil {
		return nil, err
	}
	return e.store.Flips(id, from, to)
}

// Timing implements healthchecks.Backend: Healthchecks.io's get_status, evaluated at
// read time (so exact to the instant even while a due deadline is still on its way
// to the actor; v1 shows a run in progress as "started"), and its next_ping.
func (e *Engine) Timing(c *store.Check, withStarted bool) (string, time.Time) {
	spec, err := heartbeat.Compile(actors.ConfigOf(c))
	if err != nil {
		return c.Status, time.Time{}
	}
	st := actors.StateOf(c)
	return heartbeat.DisplayStatus(spec, st, e.o.Now(), withStarted).String(), heartbeat.NextPing(spec, st)
}

// Status implements the Opsgenie and Better Uptime backends: Timing's status.
func (e *Engine) Status(c *store.Check, withStarted bool) string {
	status, _ := e.Timing(c, withStarted)
	return status
}

// ValidateSchedule implements healthchecks.Backend.
func (e *Engine) ValidateSchedule(schedule, tz string) error {
	_, err := heartbeat.Compile(heartbeat.Config{Kind: heartbeat.Cron, Schedule: schedule, TZ: tz, Timeout: time.Hour, Grace: time.Hour})
	if err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}
