package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/api/healthchecks"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/netguard"
	"github.com/vigilo/vigilo/notify"
	"github.com/vigilo/vigilo/notify/channel"
)

// openAlerts makes the outbox (started once the checks are loaded) and the
// dialer every delivery goes through.
func (e *Engine) openAlerts() error {
	guard, err := netguard.New(netguard.Options{DenyPrivate: e.o.DenyPrivateTargets})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.guard = guard
	e.outbox, err = notify.New(notify.Options{
		Store:      e.store,
		Env:        &channel.Env{Dial: guard.DialContext, UserAgent: "vigilo"},
		Now:        e.o.Now,
		Timeout:    e.o.NotifyTimeout,
		MaxBackoff: e.o.NotifyMaxBackoff,
		MaxAge:     e.o.NotifyMaxAge,
		Logger:     e.o.Logger,
		Metrics:    e.metrics.notify,
		Fence:      e.o.NotifyFence,
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// Outbox exposes the alert outbox (for benchmarks).
func (e *Engine) Outbox() *notify.Outbox { return e.outbox }

// Channels implements healthchecks.Backend.
func (e *Engine) Channels(project uuid.UUID) []store.Channel { return e.outbox.Channels(project) }

// Channel implements healthchecks.Backend.
func (e *Engine) Channel(project, id uuid.UUID) (store.Channel, error) {
	ch, ok := e.outbox.Channel(project, id)
	if !ok {
		return store.Channel{}, store.ErrNotFound
	}
	return ch, nil
}

// SaveChannel implements healthchecks.Backend.
func (e *Engine) SaveChannel(ch store.Channel) (store.Channel, error) {
	saved, err := e.outbox.SaveChannel(ch)
	var ce *notify.ConfigError
	if errors.As(err, &ce) {
		return store.Channel{}, &healthchecks.ChannelError{Msg: ce.Error()}
	}
	return saved, err
}

// DeleteChannel implements healthchecks.Backend.
func (e *Engine) DeleteChannel(project, id uuid.UUID) error {
	return e.outbox.DeleteChannel(project, id)
}

// TestChannel implements healthchecks.Backend.
func (e *Engine) TestChannel(project, id uuid.UUID) (store.Attempt, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.o.NotifyTimeout)
	defer cancel()
	return e.outbox.Test(ctx, project, id)
}

// Notifications implements healthchecks.Backend.
func (e *Engine) Notifications(project, id uuid.UUID) ([]store.Notification, error) {
	if _, err := e.check(project, id); err != nil {
		return nil, err
	}
	return e.store.Notifications(id, 100)
}
