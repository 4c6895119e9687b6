package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors"
	"github.com/vigilo/vigilo/actors/monitor"
	"github.com/vigilo/vigilo/actors/probe"
	"github.com/vigilo/vigilo/api/betteruptime"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/netguard"
	"github.com/vigilo/vigilo/wheel"
)

// openMonitors makes the monitors' registry; loadMonitors fills it.
func (e *Engine) openMonitors() error {
	env := &probe.Env{Dial: e.guard.DialContext, Now: e.o.Now}
	if e.o.DenyPrivateTargets {
		env.Allow = func(ip net.IP) error {
			a, ok := netip.AddrFromSlice(ip)
			if !ok || netguard.Denied(a.Unmap()) {
				return fmt.Errorf("%s: %w", ip, netguard.ErrDenied)
			}
			return nil
		}
	}
	var err error
	e.monitors, err = actors.NewMonitors(actors.MonitorOptions{
		Store: e.store, Wheel: e.wheel, System: e.system, Env: env,
		Compile: compileMonitor, Now: e.o.Now, Workers: e.o.ProbeWorkers, Region: e.o.Region,
		Alerter: e.outbox, Logger: e.o.Logger, OnProbe: e.o.OnProbe, Metrics: e.metrics.probes, RDAPServer: e.o.RDAPServer,
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

func (e *Engine) loadMonitors() error {
	if err := e.store.AllMonitors(e.monitors.Load); err != nil {
		return fmt.Errorf("engine: load monitors: %w", err)
	}
	return nil
}

// MonitorRegistry exposes the monitors' registry (for benchmarks).
func (e *Engine) MonitorRegistry() *actors.Monitors { return e.monitors }

// fire is the wheel's callback: a check's deadline or a monitor's wake.
func (e *Engine) fire(t *wheel.Timer, due time.Time) {
	if _, ok := t.Owner.(*actors.Monitor); ok {
		e.monitors.Fire(t, due)
		return
	}
	e.reg.Fire(t, due)
}

// compileMonitor turns a stored monitor into what its actor runs.
func compileMonitor(rec *store.Monitor) (actors.MonitorSpec, error) {
	var a betteruptime.MonitorAttrs
	if err := json.Unmarshal(rec.Attrs, &a); err != nil {
		return actors.MonitorSpec{}, fmt.Errorf("monitor %s attributes: %w", rec.ID, err)
	}
	cfg := monitor.Config{ID: rec.ID, CheckFrequency: a.CheckFrequency,
		ConfirmationPeriod: a.ConfirmationPeriod, RecoveryPeriod: a.RecoveryPeriod}
	if a.MaintenanceFrom != nil && a.MaintenanceTo != nil {
		from, to, err := monitor.ParseWindow(*a.MaintenanceFrom, *a.MaintenanceTo)
		if err != nil {
			return actors.MonitorSpec{}, fmt.Errorf("monitor %s: %w", rec.ID, err)
		}
		cfg.MaintenanceFrom, cfg.MaintenanceTo = from, to
		loc, err := betteruptime.ResolveTimezone(a.MaintenanceTimezone)
		if err != nil {
			return actors.MonitorSpec{}, fmt.Errorf("monitor %s: %w", rec.ID, err)
		}
		cfg.Location = loc
		for _, d := range a.MaintenanceDays {
			for wd, name := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
				if d == name {
					cfg.Days |= 1 << wd
				}
			}
		}
		if cfg.Days == 0 {
			// No day chosen: the window never opens; a start day outside the
			// week stands for that.
			cfg.Days = 1 << 7
		}
	}
	sm, err := monitor.Compile(cfg)
	if err != nil {
		return actors.MonitorSpec{}, fmt.Errorf("monitor %s: %w", rec.ID, err)
	}
	prober, ok := probe.Lookup(a.MonitorType)
	if !ok {
		return actors.MonitorSpec{}, fmt.Errorf("monitor %s: unknown monitor type %q", rec.ID, a.MonitorType)
	}
	t := probe.Target{
		Type: a.MonitorType, URL: a.URL, Method: strings.ToUpper(a.HTTPMethod), Body: a.RequestBody,
		BasicAuthUser: a.AuthUsername, BasicAuthPassword: a.AuthPassword,
		FollowRedirects: a.FollowRedirects, VerifySSL: a.VerifySSL, ExpectedStatusCodes: a.ExpectedStatusCodes,
		RememberCookies: a.RememberCookies,
	}
	if a.IPVersion != nil {
		t.IPVersion = *a.IPVersion
	}
	if a.RequiredKeyword != nil {
		t.RequiredKeyword = *a.RequiredKeyword
	}
	if a.Port != nil {
		// Mail monitors may list several ports; the first is probed.
		first, _, _ := strings.Cut(*a.Port, ",")
		t.Port, _ = strconv.Atoi(strings.TrimSpace(first))
	}
	if len(a.RequestHeaders) > 0 {
		t.Headers = make(map[string]string, len(a.RequestHeaders))
		for _, h := range a.RequestHeaders {
			t.Headers[h.Name] = h.Value
		}
	}
	t.Prepare()
	spec := actors.MonitorSpec{Machine: sm, Target: t, Prober: prober, Timeout: a.RequestTimeout,
		Name: a.PronounceableName, Email: a.Email}
	if spec.Timeout <= 0 {
		spec.Timeout = 30 * time.Second
	}
	if a.SSLExpiration != nil {
		spec.SSLExpiration = int(*a.SSLExpiration)
	}
	if a.DomainExpiration != nil {
		spec.DomainExpiration = int(*a.DomainExpiration)
	}
	return spec, nil
}

// monitorView is the Better Uptime view of a monitor record.
func monitorView(rec *store.Monitor) (betteruptime.Monitor, error) {
	var a betteruptime.MonitorAttrs
	if err := json.Unmarshal(rec.Attrs, &a); err != nil {
		return betteruptime.Monitor{}, fmt.Errorf("monitor %s attributes: %w", rec.ID, err)
	}
	a.Paused = rec.Status == monitor.Paused.String()
	return betteruptime.Monitor{ID: rec.ID, Number: store.CheckNumber(rec.ID), Attrs: a,
		State: betteruptime.MonitorState{Status: rec.Status, LastCheckedAt: rec.LastProbe,
			CreatedAt: rec.Created, UpdatedAt: rec.Updated, PausedAt: rec.PausedAt}}, nil
}

// Monitors implements betteruptime.Backend.
func (e *Engine) Monitors(project uuid.UUID) ([]betteruptime.Monitor, error) {
	var out []betteruptime.Monitor
	var errs []error
	e.monitors.Each(func(m *actors.Monitor) {
		if m.ProjectID() != project {
			return
		}
		res := e.monitors.Snapshot(m)
		if res.Err != nil {
			if !errors.Is(res.Err, store.ErrNotFound) {
				errs = append(errs, res.Err)
			}
			return
		}
		v, err := monitorView(&res.Monitor)
		if err != nil {
			errs = append(errs, err)
			return
		}
		out = append(out, v)
	})
	return out, errors.Join(errs...)
}

func (e *Engine) monitorByNumber(project uuid.UUID, n uint64) (*actors.Monitor, error) {
	if m := e.monitors.ByNumber(project, n); m != nil {
		return m, nil
	}
	return nil, store.ErrNotFound
}

// MonitorByNumber implements betteruptime.Backend.
func (e *Engine) MonitorByNumber(project uuid.UUID, n uint64) (betteruptime.Monitor, error) {
	m, err := e.monitorByNumber(project, n)
	if err != nil {
		return betteruptime.Monitor{}, err
	}
	res := e.monitors.Snapshot(m)
	if res.Err != nil {
		return betteruptime.Monitor{}, res.Err
	}
	return monitorView(&res.Monitor)
}

// CreateMonitor implements betteruptime.Backend.
func (e *Engine) CreateMonitor(project uuid.UUID, a betteruptime.MonitorAttrs) (betteruptime.Monitor, error) {
	attrs, err := json.Marshal(a)
	if err != nil {
		return betteruptime.Monitor{}, fmt.Errorf("create monitor: %w", err)
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return betteruptime.Monitor{}, err
	}
	now := e.o.Now().UTC()
	rec, err := e.monitors.Create(store.Monitor{ID: id, ProjectID: project, Attrs: attrs, Created: now, Updated: now}, a.Paused)
	if err != nil {
		return betteruptime.Monitor{}, err
	}
	return monitorView(&rec)
}

// UpdateMonitor implements betteruptime.Backend.
func (e *Engine) UpdateMonitor(project uuid.UUID, n uint64, edit func(betteruptime.MonitorAttrs) (betteruptime.MonitorAttrs, error)) (betteruptime.Monitor, error) {
	m, err := e.monitorByNumber(project, n)
	if err != nil {
		return betteruptime.Monitor{}, err
	}
	// Read, edit and write are not one step: two PATCHes of one monitor at once
	// may see the same attributes, and the later write wins, as with any
	// REST resource without a version.
	cur := e.monitors.Snapshot(m)
	if cur.Err != nil {
		return betteruptime.Monitor{}, cur.Err
	}
	v, err := monitorView(&cur.Monitor)
	if err != nil {
		return betteruptime.Monitor{}, err
	}
	next, err := edit(v.Attrs)
	if err != nil {
		return betteruptime.Monitor{}, err
	}
	attrs, err := json.Marshal(next)
	if err != nil {
		return betteruptime.Monitor{}, fmt.Errorf("update monitor: %w", err)
	}
	var paused *bool
	if next.Paused != v.Attrs.Paused {
		paused = &next.Paused
	}
	res := e.monitors.Update(m, attrs, paused)
	if res.Err != nil {
		return betteruptime.Monitor{}, res.Err
	}
	return monitorView(&res.Monitor)
}

// DeleteMonitor implements betteruptime.Backend.
func (e *Engine) DeleteMonitor(project uuid.UUID, n uint64) error {
	m, err := e.monitorByNumber(project, n)
	if err != nil {
		return err
	}
	if res := e.monitors.Delete(m); res.Err != nil {
		return res.Err
	}
	e.outbox.Forget(m.ID())
	return nil
}

// ResponseTimes implements betteruptime.Backend.
func (e *Engine) ResponseTimes(project uuid.UUID, n uint64) ([]store.ResponseTime, error) {
	m, err := e.monitorByNumber(project, n)
	if err != nil {
		return nil, err
	}
	return e.store.ResponseTimes(m.ID(), 0)
}

// Incidents implements betteruptime.Backend.
func (e *Engine) Incidents(project uuid.UUID, n uint64) ([]store.Incident, error) {
	m, err := e.monitorByNumber(project, n)
	if err != nil {
		return nil, err
	}
	return e.store.Incidents(m.ID())
}

// MonitorLimits implements betteruptime.Backend.
func (e *Engine) MonitorLimits() betteruptime.MonitorLimits {
	return betteruptime.MonitorLimits{MinPeriod: e.o.MinPeriod}
}
