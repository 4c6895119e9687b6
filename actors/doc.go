// Package actors hosts every check as its own protoactor-go actor.
//
// A check is always resident as a small [Check] value (its record, its compiled
// schedule and its timer on the wheel); its actor exists only while it has work.
// The first event for a check (a ping, a deadline from the wheel, an API command)
// wakes it: it gets an actor, a vacant one or a fresh spawn. After IdleTimeout
// without messages the idle sweep (Registry.Passivate, see idle.go) passivates it:
// the actor is unbound and kept vacant for another check, and the check's state stays
// in the resident [Check] and in the store until the next event wakes it. This is protoactor's virtual-actor pattern
// without the cluster, and it is what lets one node hold millions of checks: a
// running actor costs about 700 bytes of heap and 5 µs to spawn, so spawning a
// million at start-up, or keeping a million idle ones, would cost the restart and
// memory budgets.
//
// The actor only hosts the pure state machine of package heartbeat: it feeds it
// events with the current time, persists what it decides (check record, ping log
// entry, flip) in one store batch, re-arms the wheel at the deadline it returns, and
// answers the caller once the batch is durable. Every write to a check goes through
// its actor, so writes to one check are serialised without locks on the hot path.
//
// Passivation is race-free because a sender counts its message in the check's
// inflight counter under the check's mutex before it sends, and the sweep only
// unbinds an actor, under the same mutex, when that counter is zero: a message is
// never sent to an actor that no longer hosts its check.
package actors
