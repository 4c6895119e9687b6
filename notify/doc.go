// Package notify is vigilo's alerting: it turns a check's status flips into
// notifications, keeps them in a durable outbox, and delivers them through each
// project's channels until they are delivered or too old.
//
// The path of an alert: the check's actor runs the state machine; when a step
// flips the check into down, or back up from down, the actor calls
// [Outbox.Flipped], which adds one pending Notification per channel to the
// actor's own store batch, so the flip and its notifications become durable
// together or not at all. Once that batch is synced, the notifications join the
// outbox's in-memory queue. Nothing about delivery runs on an actor's or the
// wheel's goroutine.
//
// Delivery is per lane, one lane per (channel, check): a lane sends its
// notifications one at a time and in order, so a down followed by an up within
// one delivery cycle arrives as down then up. A channel runs at most
// Options.PerChannel lanes at once, each send on its own goroutine with
// Options.Timeout, so a receiver that never answers holds only its own
// channel's slots. A failed attempt is retried with exponential backoff and
// full jitter (the first retry within a second, at most Options.MaxBackoff
// apart) until it is delivered, fails permanently (an HTTP 4xx, an SMTP 5xx) or
// is older than Options.MaxAge. Every attempt is written to the notification's
// record (time, status, error, latency); the outbox entry goes when the
// notification is delivered or given up.
//
// Delivery is at least once: a notification is marked delivered after the
// receiver accepted it, so a crash in between sends it again after restart.
// Each notification has one stable id (a UUIDv7) that every delivery carries
// (the Idempotency-Key header, or the email's Message-ID), for receivers to
// deduplicate.
package notify
