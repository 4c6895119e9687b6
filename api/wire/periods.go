package wire

import (
	"fmt"
	"time"
)

// Periods bounds a check's period (Healthchecks timeout, Opsgenie interval, Better
// Uptime period) and its grace, the same in every dialect: from the server's
// --min-period to the longest period, both inclusive. Each dialect's Options embeds it.
type Periods struct {
	// MinPeriod defaults to 60s, as Healthchecks.io; MaxPeriod to 365 days.
	MinPeriod, MaxPeriod time.Duration
}

// WithDefaults fills zero bounds with their documented defaults.
func (p Periods) WithDefaults() Periods {
	if p.MinPeriod == 0 {
		p.MinPeriod = time.Minute
	}
	if p.MaxPeriod == 0 {
		p.MaxPeriod = 365 * 24 * time.Hour
	}
	return p
}

// Validate reports bounds that no period could satisfy.
func (p Periods) Validate() error {
	switch {
	case p.MinPeriod < time.Second:
		return fmt.Errorf("MinPeriod %v is below 1s", p.MinPeriod)
	case p.MaxPeriod < p.MinPeriod:
		return fmt.Errorf("MaxPeriod %v is below MinPeriod %v", p.MaxPeriod, p.MinPeriod)
	}
	return nil
}
