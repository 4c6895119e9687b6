package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/notify/channel"
)

// Options configures an Outbox. Store and Env are required.
type Options struct {
	Store *store.Store
	// Env is what deliveries dial and trust through (netguard's dialer).
	Env *channel.Env
	// Now is the clock notifications and attempts are stamped with; default time.Now.
	Now func() time.Time
	// Timeout bounds one delivery attempt; default 10s.
	Timeout time.Duration
	// FirstBackoff is the longest wait before the first retry; each further
	// retry may wait twice as long, up to MaxBackoff. Default 500ms.
	FirstBackoff time.Duration
	// MaxBackoff caps the wait between attempts; default 60s (--notify-max-backoff).
	MaxBackoff time.Duration
	// MaxAge is how long a notification is retried before it is given up; default
	// 24h (--notify-max-age).
	MaxAge time.Duration
	// PerChannel is how many deliveries one channel may have in flight; default 8.
	PerChannel int
	// Logger receives what has no caller to return to; default slog.Default().
	Logger *slog.Logger
	// Metrics, if not nil, receives the outbox's Prometheus metrics (NewMetrics).
	Metrics *Metrics
	// Fence, if set, runs before each delivery attempt with the attempt's
	// context: an error holds the attempt back, unrecorded, and it is
	// retried after the backoff (a cluster node's check that it still owns
	// the outbox).
	Fence func(context.Context) error
}

// WithDefaults fills the zero fields of o with their documented defaults.
func (o Options) WithDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.FirstBackoff == 0 {
		o.FirstBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 60 * time.Second
	}
	if o.MaxAge == 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.PerChannel == 0 {
		o.PerChannel = 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	switch {
	case o.Store == nil:
		return errors.New("notify: Store is required")
	case o.Env == nil || o.Env.Dial == nil:
		return errors.New("notify: Env with a Dial function is required")
	case o.Timeout < 0, o.FirstBackoff < 0, o.MaxBackoff < 0, o.MaxAge < 0:
		return errors.New("notify: Timeout, FirstBackoff, MaxBackoff and MaxAge must not be negative")
	case o.FirstBackoff > o.MaxBackoff:
		return fmt.Errorf("notify: FirstBackoff %v is above MaxBackoff %v", o.FirstBackoff, o.MaxBackoff)
	case o.PerChannel < 0:
		return fmt.Errorf("notify: PerChannel %d is negative", o.PerChannel)
	}
	return nil
}
