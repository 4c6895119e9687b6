package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine/store"
)

// Keys are a project's plain keys, as made or rotated.
type Keys struct {
	Project     store.Project
	APIKey      string
	ReadOnlyKey string
}

// Backend is what this API needs of the engine.
type Backend interface {
	CreateProject(name string) (Keys, error)
	Projects() ([]store.Project, error)
	Project(id uuid.UUID) (store.Project, error) // store.ErrNotFound
	RotateKeys(id uuid.UUID) (Keys, error)
	DeleteProject(id uuid.UUID) error
}

// Prefix is the path prefix served.
const Prefix = "/admin/v1/"

// API serves /admin/v1/.
type API struct {
	b       Backend
	keyHash [32]byte
}

// New makes the API; adminKey must not be empty.
func New(b Backend, adminKey string) (*API, error) {
	if adminKey == "" {
		return nil, errors.New("admin: an admin key is required")
	}
	return &API{b: b, keyHash: sha256.Sum256([]byte(adminKey))}, nil
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(v)
	ctx.SetBody(b)
}

func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, map[string]string{"error": msg})
}

func projectJSON(p store.Project) map[string]any {
	return map[string]any{
		"id":       p.ID.String(),
		"name":     p.Name,
		"ping_key": p.PingKey,
		"created":  p.Created.UTC().Format(time.RFC3339),
	}
}

func keysJSON(k Keys) map[string]any {
	m := projectJSON(k.Project)
	m["api_key"] = k.APIKey
	m["read_only_key"] = k.ReadOnlyKey
	return m
}

// Serve handles one request under Prefix.
func (a *API) Serve(ctx *fasthttp.RequestCtx) {
	auth := string(ctx.Request.Header.Peek("Authorization"))
	token, ok := strings.CutPrefix(auth, "Bearer ")
	// Compare hashes so the comparison's time does not depend on the key's length.
	h := sha256.Sum256([]byte(token))
	if !ok || subtle.ConstantTimeCompare(h[:], a.keyHash[:]) != 1 {
		writeError(ctx, fasthttp.StatusUnauthorized, "missing or wrong admin key")
		return
	}
	rest := strings.TrimSuffix(strings.TrimPrefix(string(ctx.Path()), Prefix), "/")
	parts := strings.Split(rest, "/")
	if parts[0] != "projects" || len(parts) > 3 {
		writeError(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	method := string(ctx.Method())
	if len(parts) == 1 {
		switch method {
		case "GET":
			a.list(ctx)
		case "POST":
			a.create(ctx)
		default:
			writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
		}
		return
	}
	id, err := uuid.Parse(parts[1])
	if err != nil {
		writeError(ctx, fasthttp.StatusNotFound, "not found")
		return
	}
	switch {
	case len(parts) == 3 && parts[2] == "rotate" && method == "POST":
		k, err := a.b.RotateKeys(id)
		if a.failed(ctx, err) {
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, keysJSON(k))
	case len(parts) == 2 && method == "GET":
		p, err := a.b.Project(id)
		if a.failed(ctx, err) {
			return
		}
		writeJSON(ctx, fasthttp.StatusOK, projectJSON(p))
	case len(parts) == 2 && method == "DELETE":
		if a.failed(ctx, a.b.DeleteProject(id)) {
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	case len(parts) == 3 && parts[2] != "rotate":
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	default:
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	}
}

func (a *API) failed(ctx *fasthttp.RequestCtx, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		writeError(ctx, fasthttp.StatusNotFound, "project not found")
	default:
		writeError(ctx, fasthttp.StatusServiceUnavailable, "temporarily unavailable: "+err.Error())
	}
	return true
}

func (a *API) list(ctx *fasthttp.RequestCtx) {
	ps, err := a.b.Projects()
	if a.failed(ctx, err) {
		return
	}
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, projectJSON(p))
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"projects": out})
}

func (a *API) create(ctx *fasthttp.RequestCtx) {
	var req struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, "could not parse request body: expected {\"name\": \"...\"}")
		return
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "name is required")
		return
	}
	if len(*req.Name) > 200 {
		writeError(ctx, fasthttp.StatusBadRequest, "name is too long (at most 200 characters)")
		return
	}
	k, err := a.b.CreateProject(*req.Name)
	if a.failed(ctx, err) {
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, keysJSON(k))
}
