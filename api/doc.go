// Package api groups the HTTP dialects vigilo speaks, one sub-package each:
// healthchecks (the Healthchecks.io Management API v1–v3), opsgenie (the Opsgenie
// Heartbeat API), betteruptime (the Better Uptime Heartbeats API) and admin (tenant
// management); wire holds what the dialects share (key checks, strict decoding,
// pagination, failure kinds), once. Each dialect decodes and validates its own wire format, answers bad
// input in its own error shape, and talks to the engine through a small interface it
// defines, so the engine can serve every dialect over one model.
package api
