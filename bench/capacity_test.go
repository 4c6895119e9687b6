package bench

import (
	"strings"
	"testing"
	"time"
)

func TestPlanCapacity(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name    string
		plan    Plan
		in      capacityInputs
		nodes   int
		binding string
		line    string // a part of the line
	}{
		{
			name:  "pings bind",
			plan:  Plan{Checks: 5_000_000, Period: time.Minute, Headroom: 0.5},
			in:    capacityInputs{machineMemory: 8 * gib, bytesPerCheck: 720, pingsPerSecond: 17_000},
			nodes: 10, binding: ResourcePings, // 83,333 / 8,500 = 9.8
			line: "capacity: 5,000,000 checks at 1m0s → 10 nodes of this machine (binding: pings/s, 83,333/s needed vs 17,000/s measured, with 50% headroom)",
		},
		{
			name:  "memory binds",
			plan:  Plan{Checks: 100_000_000, Period: time.Hour, Headroom: 0.25},
			in:    capacityInputs{machineMemory: 8 * gib, bytesPerCheck: 1024, pingsPerSecond: 50_000},
			nodes: 16, binding: ResourceMemory, // 95.4 GiB / 6 GiB = 15.9
			line: "binding: memory, 95.4 GiB needed vs 8.0 GiB measured, with 25% headroom",
		},
		{
			name:  "exact fit does not round up",
			plan:  Plan{Checks: 1000, Period: time.Second, Headroom: 0.5},
			in:    capacityInputs{pingsPerSecond: 1000},
			nodes: 2, binding: ResourcePings,
		},
		{
			name:  "explicit rate",
			plan:  Plan{Checks: 1000, Period: time.Hour, Rate: 4000, Headroom: 0},
			in:    capacityInputs{pingsPerSecond: 1000},
			nodes: 4, binding: ResourcePings,
		},
		{
			name:  "small workload is one node",
			plan:  Plan{Checks: 10, Period: time.Hour, Headroom: 0.5},
			in:    capacityInputs{machineMemory: gib, bytesPerCheck: 1000, pingsPerSecond: 1000, transitionsPerSecond: 1000},
			nodes: 1, binding: ResourceMemory,
			line: "→ 1 node of this machine",
		},
		{
			name:  "transitions bind",
			plan:  Plan{Checks: 6_000_000, Period: time.Minute, Headroom: 0.5},
			in:    capacityInputs{pingsPerSecond: 1_000_000, transitionsPerSecond: 20_000},
			nodes: 10, binding: ResourceTransitions, // 100,000 / 10,000
		},
		{
			name:  "nothing measured",
			plan:  Plan{Checks: 10, Period: time.Minute, Headroom: 0.5},
			in:    capacityInputs{machineMemory: gib},
			nodes: 0, binding: "",
			line: "not sized",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.plan.Validate(); err != nil {
				t.Fatal(err)
			}
			c := planCapacity(tc.plan, tc.in)
			if c.Nodes != tc.nodes || c.Binding != tc.binding {
				t.Errorf("nodes %d binding %q, want %d %q: %+v", c.Nodes, c.Binding, tc.nodes, tc.binding, c)
			}
			if !strings.Contains(c.Line, tc.line) {
				t.Errorf("line %q does not contain %q", c.Line, tc.line)
			}
			for _, r := range c.Resources {
				if r.Nodes < 1 || r.Usable != r.PerNode*(1-tc.plan.Headroom) {
					t.Errorf("resource %+v", r)
				}
			}
		})
	}
}
