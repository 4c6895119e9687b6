// Package opsgenie serves the Opsgenie Heartbeat API (v2) over vigilo's checks, so
// an Opsgenie client works against vigilo by changing only its base URL and key:
//
//	GET    /v2/heartbeats                 list
//	POST   /v2/heartbeats                 add (201)
//	GET    /v2/heartbeats/{name}          get
//	PATCH  /v2/heartbeats/{name}          partial update
//	DELETE /v2/heartbeats/{name}          delete
//	POST   /v2/heartbeats/{name}/enable   resume monitoring (also PUT, PATCH)
//	POST   /v2/heartbeats/{name}/disable  pause monitoring (also PUT, PATCH)
//	GET    /v2/heartbeats/{name}/ping     ping (also POST, PUT, PATCH): 202 PONG
//
// Opsgenie addresses a heartbeat by its name, so names are unique per project for
// what this API creates (a taken name answers 409); a name repeated through the
// other dialects resolves to the oldest check that has it. Keys come as
// "Authorization: GenieKey <key>"; a project's read-only key may list, get and
// ping, and nothing else. Every answer is in Opsgenie's envelope (data or result,
// took, requestId; errors as message, took, requestId and, for 422, errors by
// field), with Opsgenie's X-Request-Id, X-Response-Time and X-RateLimit-State
// headers, which the official SDKs read. Behaviour follows
// ../shared/seeds/opsgenie-heartbeat-api.txt; docs/DIALECTS.md maps each field
// onto the check model.
package opsgenie
