// Package ingest serves the Healthchecks.io ping URLs over fasthttp:
// /ping/<uuid>[/start|/fail|/log|/<exit status>] and
// /ping/<ping key>/<slug>[/...] with ?create=1 auto-provisioning and ?rid= run ids.
//
// It parses and validates a ping, answers malformed ones itself (400, 413), and hands
// the rest to the engine through the Engine interface defined here. The engine
// returns only once the ping is durable, so an "OK" this package sends is a promise
// that the ping survives a crash.
package ingest
