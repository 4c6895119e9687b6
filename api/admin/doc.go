// Package admin serves the tenant-management API at /admin/v1/, for a SaaS backend
// that gives each of its customers a vigilo project of their own:
//
//	POST   /admin/v1/projects             {"name": ...} → 201 with the project's keys
//	GET    /admin/v1/projects             → {"projects": [...]} (no keys)
//	GET    /admin/v1/projects/<id>        → the project (no keys)
//	POST   /admin/v1/projects/<id>/rotate → new read-write and read-only keys
//	DELETE /admin/v1/projects/<id>        → 204; the project's checks go too
//
// It is enabled only when the server has an admin key, and every call must carry it
// as "Authorization: Bearer <admin key>". Plain keys are shown only in the answers
// that make them: the store keeps their hashes.
package admin
