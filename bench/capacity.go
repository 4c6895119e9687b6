package bench

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Plan is a workload to size a deployment for (--plan-*): from the figures a run
// measured on this machine, how many such machines it takes.
type Plan struct {
	Checks int           // heartbeats to monitor
	Period time.Duration // each sends one ping per period
	// Rate is the pings per second the workload sends; 0 means Checks / Period.
	// It is higher when checks also send /start or /fail.
	Rate float64
	// Headroom is the share of each resource of a node kept spare, in [0, 1): 0.5
	// plans every node at half of what it measured.
	Headroom float64
}

// DefaultPlanHeadroom is --plan-headroom's default.
const DefaultPlanHeadroom = 0.5

// Validate reports the first thing wrong with p.
func (p Plan) Validate() error {
	switch {
	case p.Checks < 1:
		return fmt.Errorf("bench: plan checks %d is below 1", p.Checks)
	case p.Period <= 0:
		return fmt.Errorf("bench: plan period %v is not positive", p.Period)
	case p.Rate < 0 || math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0):
		return fmt.Errorf("bench: plan rate %v is not a rate", p.Rate)
	case !(p.Headroom >= 0 && p.Headroom < 1):
		return fmt.Errorf("bench: plan headroom %v is outside [0, 1)", p.Headroom)
	}
	return nil
}

func (p Plan) rate() float64 {
	if p.Rate > 0 {
		return p.Rate
	}
	return float64(p.Checks) / p.Period.Seconds()
}

// The resources a plan is sized by, as CapacityResource.Name gives them.
const (
	ResourceMemory      = "memory_bytes"
	ResourcePings       = "pings_per_second"
	ResourceTransitions = "transitions_per_second"
)

// Capacity is a plan sized against a run: "capacity" in the JSON report.
type Capacity struct {
	Checks         int     `json:"checks"`
	PeriodSeconds  float64 `json:"period_seconds"`
	PingsPerSecond float64 `json:"pings_per_second"` // the workload's
	Headroom       float64 `json:"headroom"`
	// Nodes is how many machines like this one the workload needs: the most any
	// resource needs. 0 when the run measured none of them.
	Nodes     int                `json:"nodes"`
	Binding   string             `json:"binding,omitempty"` // the resource that needs the most
	Node      string             `json:"node"`              // the machine a node is like: this one, or a --target's
	Resources []CapacityResource `json:"resources"`
	Line      string             `json:"line"` // the one-line summary the table prints
}

// CapacityResource is one resource's share of a plan.
type CapacityResource struct {
	Name    string  `json:"name"`
	Needed  float64 `json:"needed"`          // by the whole workload
	PerNode float64 `json:"per_node"`        // what one machine like this one measured (memory: has)
	Usable  float64 `json:"usable_per_node"` // PerNode × (1 − headroom)
	Nodes   int     `json:"nodes"`           // ⌈Needed / Usable⌉
	From    string  `json:"from"`            // what measured PerNode
}

// capacityInputs are the run's figures a plan is sized by; 0 is not measured.
type capacityInputs struct {
	node                 string  // what a node is: "this machine" unless a --target was measured
	machineMemory        float64 // bytes
	bytesPerCheck        float64 // resident, idle
	pingsPerSecond       float64 // durable
	transitionsPerSecond float64 // down transitions of a burst due at once
}

func (rep *Report) capacityInputs() capacityInputs {
	in := capacityInputs{machineMemory: float64(rep.Machine.MemoryBytes)}
	for _, s := range rep.Scenarios {
		switch x := s.(type) {
		case *MemoryResult:
			in.bytesPerCheck = x.BytesPerCheck
		case *IngestResult:
			in.pingsPerSecond = x.PingsPerSecond
			if x.Target != "" {
				in.node = "the target's machine"
			}
		case *DeadlinesResult:
			in.transitionsPerSecond = x.burstRate()
		}
	}
	return in
}

// errNoCapacityFigure is why a plan has no node count.
var errNoCapacityFigure = errors.New("the run measured none of memory, ingest and deadlines")

// planCapacity sizes p against the run's figures. Every resource is needed in
// proportion to the workload and had by each node as measured, less the headroom;
// transitions are sized for a mass outage, every check's deadline falling due
// within one period, against the rate at which the run's burst of simultaneous
// deadlines was taken down.
func planCapacity(p Plan, in capacityInputs) Capacity {
	c := Capacity{
		Checks: p.Checks, PeriodSeconds: p.Period.Seconds(),
		PingsPerSecond: p.rate(), Headroom: p.Headroom,
		Resources: []CapacityResource{}, Node: in.node,
	}
	if c.Node == "" {
		c.Node = "this machine"
	}
	add := func(name, from string, needed, perNode float64) {
		if perNode <= 0 || math.IsNaN(perNode) || math.IsInf(perNode, 0) {
			return
		}
		r := CapacityResource{Name: name, From: from, Needed: needed, PerNode: perNode, Usable: perNode * (1 - p.Headroom)}
		// The epsilon keeps an exact fit (needed = 2 × usable) from rounding up to 3.
		r.Nodes = max(1, int(math.Ceil(needed/r.Usable-1e-9)))
		c.Resources = append(c.Resources, r)
	}
	if in.bytesPerCheck > 0 {
		add(ResourceMemory, "memory scenario: resident bytes per idle check × checks, against the machine's memory",
			in.bytesPerCheck*float64(p.Checks), in.machineMemory)
	}
	add(ResourcePings, "ingest scenario: durable pings/s", c.PingsPerSecond, in.pingsPerSecond)
	add(ResourceTransitions, "deadlines scenario: burst checks / burst drain time",
		float64(p.Checks)/p.Period.Seconds(), in.transitionsPerSecond)

	worst := -1.0
	for _, r := range c.Resources {
		if load := r.Needed / r.Usable; load > worst {
			worst, c.Nodes, c.Binding = load, r.Nodes, r.Name
		}
	}
	c.Line = c.line()
	return c
}

func (c *Capacity) line() string {
	head := fmt.Sprintf("capacity: %s checks at %v", fmtCount(float64(c.Checks)), time.Duration(c.PeriodSeconds*1e9))
	if c.Nodes == 0 {
		return head + " → not sized: " + errNoCapacityFigure.Error()
	}
	var b *CapacityResource
	for i := range c.Resources {
		if c.Resources[i].Name == c.Binding {
			b = &c.Resources[i]
		}
	}
	node := "nodes"
	if c.Nodes == 1 {
		node = "node"
	}
	return fmt.Sprintf("%s → %d %s of %s (binding: %s, %s needed vs %s measured, with %.0f%% headroom)",
		head, c.Nodes, node, c.Node, resourceLabel(b.Name), fmtResource(b.Name, b.Needed), fmtResource(b.Name, b.PerNode), 100*c.Headroom)
}

func resourceLabel(name string) string {
	switch name {
	case ResourceMemory:
		return "memory"
	case ResourcePings:
		return "pings/s"
	case ResourceTransitions:
		return "deadline transitions/s"
	}
	return name
}

func fmtResource(name string, v float64) string {
	switch name {
	case ResourceMemory:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case ResourcePings, ResourceTransitions:
		return fmtCount(v) + "/s"
	}
	return strings.TrimSpace(fmt.Sprintf("%g", v))
}
