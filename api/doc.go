// Package api groups the HTTP dialects vigilo speaks, one sub-package each:
// healthchecks (the Healthchecks.io Management API v1–v3) and admin (tenant
// management). Each dialect decodes and validates its own wire format, answers bad
// input in its own error shape, and talks to the engine through a small interface it
// defines, so the engine can serve every dialect over one model.
package api
