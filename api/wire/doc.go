// Package wire is the request-and-answer plumbing the heartbeat dialects share
// (api/opsgenie, api/betteruptime), so that each concern is one piece of code and
// the dialects differ only in their wire shapes:
//
//   - authentication: the project key from "Authorization: <scheme> <key>", and
//     whether its role may call the endpoint (Auth);
//   - failures: every error an endpoint can answer is a *Failure of a Kind, whose
//     HTTP status is decided here; a dialect only renders it in its own error
//     body (Failure, FromBackend);
//   - request bodies: a JSON object read field by field, strictly by type, with
//     every problem collected under its field name (Object);
//   - pagination: page and per_page, the window of a list, and the links to the
//     other pages (Page).
package wire
