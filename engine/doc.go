// Package engine wires one vigilo node: it opens the store, loads every check into
// the actor registry and re-arms it on the timing wheel, drives the wheel from the
// clock, and serves the ping endpoints and the API dialects over one fasthttp server.
//
// It also implements the small interfaces those dialects define (ingest.Engine,
// healthchecks.Backend, admin.Backend): the one place where a dialect's request
// becomes an event for a check's actor, and where projects and their keys live.
//
// A ping's path: fasthttp → ingest (parse, validate) → Engine.Ping (find the
// check) → the check's actor (state machine, one store batch) → the store's group
// commit (one WAL fsync for many pings) → the actor's reply → "OK". See
// docs/ARCHITECTURE.md.
package engine
