package wheel

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
)

// Defaults applied by Options.WithDefaults.
const (
	DefaultTick          = 100 * time.Millisecond
	DefaultSlotsPerLevel = 64
	DefaultMaxSpan       = 400 * 24 * time.Hour
)

// Bounds that keep a wheel's fixed memory (Shards × levels × SlotsPerLevel list
// heads of 48 bytes each) small.
const (
	minSlotsPerLevel = 4
	maxSlotsPerLevel = 1 << 12
	maxShards        = 1 << 10
)

// ErrInvalidOptions is wrapped by every error from Options.Validate and New.
var ErrInvalidOptions = errors.New("invalid options")

// Options configures a Wheel. Only Start is required.
type Options struct {
	Tick          time.Duration // resolution; default 100ms
	SlotsPerLevel int           // power of two; default 64
	MaxSpan       time.Duration // longest delay a timer may have; default 400 days. Levels are derived from it.
	Shards        int           // independent locks to cut contention; default runtime.GOMAXPROCS(0) rounded up to a power of two
	Start         time.Time     // the wheel's origin (injected clock: the wheel never reads time.Now()); required
}

// WithDefaults returns o with every zero field set to its documented default.
// Negative values are left alone so that Validate reports them.
func (o Options) WithDefaults() Options {
	if o.Tick == 0 {
		o.Tick = DefaultTick
	}
	if o.SlotsPerLevel == 0 {
		o.SlotsPerLevel = DefaultSlotsPerLevel
	}
	if o.MaxSpan == 0 {
		o.MaxSpan = DefaultMaxSpan
	}
	if o.Shards == 0 {
		o.Shards = min(ceilPow2(runtime.GOMAXPROCS(0)), maxShards)
	}
	return o
}

// Validate reports every problem with o at once (joined); each wraps
// ErrInvalidOptions. It does not apply defaults: call WithDefaults first.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("wheel: %w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.Tick <= 0 {
		bad("Tick is %v, must be positive", o.Tick)
	}
	switch s := o.SlotsPerLevel; {
	case s < minSlotsPerLevel || s > maxSlotsPerLevel:
		bad("SlotsPerLevel is %d, must be between %d and %d", s, minSlotsPerLevel, maxSlotsPerLevel)
	case s&(s-1) != 0:
		bad("SlotsPerLevel is %d, must be a power of two", s)
	}
	if o.Tick > 0 && o.MaxSpan < o.Tick {
		bad("MaxSpan is %v, must be at least one Tick (%v)", o.MaxSpan, o.Tick)
	}
	if o.Shards < 1 || o.Shards > maxShards {
		bad("Shards is %d, must be between 1 and %d", o.Shards, maxShards)
	}
	switch sec := o.Start.Unix(); {
	case o.Start.IsZero():
		bad("Start is required (the wheel never reads the clock)")
	case sec < minUnixSec || sec > maxUnixSec:
		// Due times are kept as int64 Unix nanoseconds.
		bad("Start %v is outside the years 1678..2262", o.Start)
	}
	return errors.Join(errs...)
}

// levels is the number of levels needed so that any delay up to MaxSpan is placed
// exactly, without the top-level clamp. The top level's slot for a due tick can be
// up to SlotsPerLevel-1 slots ahead of the current one, and alignment costs one of
// those, hence S-2.
func (o Options) levels() int {
	maxTicks := int64(o.MaxSpan / o.Tick)
	if o.MaxSpan%o.Tick != 0 {
		maxTicks++
	}
	s := int64(o.SlotsPerLevel)
	n, span := 1, int64(1) // span = S^(n-1)
	for (s-2)*span < maxTicks && span <= math.MaxInt64/(s*s) {
		n++
		span *= s
	}
	return n
}

func ceilPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}
