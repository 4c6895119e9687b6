// Package healthchecks serves the Healthchecks.io Management API, versions 1, 2 and 3,
// at /api/v1/, /api/v2/ and /api/v3/: checks (list, get by uuid or unique_key, create
// with unique matching, update, pause, resume, delete), their pings, ping bodies and
// flips, and channels.
//
// Behaviour follows ../shared/seeds/healthchecks-management-api.txt and, where it is
// silent, Healthchecks.io's own hc/api/views.py: X-Api-Key or a POST body's api_key,
// read-only keys limited to list, get and flips (with unique_key instead of URLs and
// channels), {"error": "..."} bodies with 400 and 401, and v1's "started" status
// against v2's separate "started" field. One deliberate difference: another
// project's check answers 404, exactly as an unknown one, so a key cannot learn
// which uuids exist elsewhere.
package healthchecks
