// Package betteruptime serves the Better Uptime (Better Stack Uptime) Heartbeats
// API over vigilo's checks, and the heartbeats' ping URLs, so a Better Uptime
// client works against vigilo by changing only its base URL and token:
//
//	GET    /api/v2/heartbeats?page=&per_page=  list, 50 a page (at most 250), with pagination links
//	GET    /api/v2/heartbeats/{id}             get
//	POST   /api/v2/heartbeats                  create (201)
//	PATCH  /api/v2/heartbeats/{id}             update
//	DELETE /api/v2/heartbeats/{id}             delete (204)
//	GET|HEAD|POST /api/v1/heartbeat/{token}[/fail|/{exit code}]  ping
//
// Answers are JSON:API shaped ({"data": {"id": "…", "type": "heartbeat",
// "attributes": {…}}}); errors are {"errors": "message"}, or for 422 {"errors":
// {field: [problems]}}. Keys come as "Authorization: Bearer <key>"; a project's
// read-only key may list and get, nothing else. A heartbeat's id is
// store.CheckNumber of its check (a number, sent as a string as Better Uptime
// does); its token is the check's uuid in 32 hex digits, so a ping needs no
// index. period and grace are checked against the server's --min-period rather
// than Better Uptime's fixed 30 s. Behaviour follows
// ../shared/seeds/betteruptime-heartbeats-api.txt; docs/DIALECTS.md maps each
// field onto the check model.
package betteruptime
