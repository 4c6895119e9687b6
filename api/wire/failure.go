package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine/store"
)

// Kind classifies a failure; it decides the HTTP status, the same in every dialect.
type Kind uint8

const (
	BadRequest       Kind = iota + 1 // 400: the body is not JSON, or not an object
	Unauthenticated                  // 401: no key, or not a key of any project
	Forbidden                        // 403: a read-only key on an endpoint that writes
	NotFound                         // 404: no such resource in the caller's project
	MethodNotAllowed                 // 405
	Conflict                         // 409: the change collides with another resource
	Invalid                          // 422: well-formed, but fields break the rules
	Unavailable                      // 503: the store did not take the change; retry
)

var statuses = [...]int{
	BadRequest:       fasthttp.StatusBadRequest,
	Unauthenticated:  fasthttp.StatusUnauthorized,
	Forbidden:        fasthttp.StatusForbidden,
	NotFound:         fasthttp.StatusNotFound,
	MethodNotAllowed: fasthttp.StatusMethodNotAllowed,
	Conflict:         fasthttp.StatusConflict,
	Invalid:          fasthttp.StatusUnprocessableEntity,
	Unavailable:      fasthttp.StatusServiceUnavailable,
}

// Failure is an error answer before a dialect dresses it in its own shape.
type Failure struct {
	Kind Kind
	// Message is a sentence for people; a dialect may replace it with its own
	// wording for the kind.
	Message string
	// Fields are the problems of an Invalid request, by field, in the order found.
	Fields []FieldProblem
}

// FieldProblem is what is wrong with one field of a request.
type FieldProblem struct {
	Field, Problem string
}

// Failf makes a Failure of kind k.
func Failf(k Kind, format string, args ...any) *Failure {
	return &Failure{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Status is the HTTP status of f.
func (f *Failure) Status() int {
	if int(f.Kind) < len(statuses) && statuses[f.Kind] != 0 {
		return statuses[f.Kind]
	}
	return fasthttp.StatusInternalServerError
}

func (f *Failure) Error() string {
	if len(f.Fields) == 0 {
		return f.Message
	}
	parts := make([]string, len(f.Fields))
	for i, p := range f.Fields {
		parts[i] = p.Field + ": " + p.Problem
	}
	return f.Message + " (" + strings.Join(parts, "; ") + ")"
}

// ByField groups f's field problems: each field once, in the order first found,
// with its problems in order.
func (f *Failure) ByField() (fields []string, problems map[string][]string) {
	problems = map[string][]string{}
	for _, p := range f.Fields {
		if _, seen := problems[p.Field]; !seen {
			fields = append(fields, p.Field)
		}
		problems[p.Field] = append(problems[p.Field], p.Problem)
	}
	return fields, problems
}

// FromBackend classifies an error from a dialect's backend: store.ErrNotFound is
// NotFound, a *Failure stays what it is, and anything else is Unavailable — the
// store could not take the change, which is no fault of the request, so the
// client should retry rather than be told its input was wrong.
func FromBackend(err error) *Failure {
	var f *Failure
	switch {
	case errors.As(err, &f):
		return f
	case errors.Is(err, store.ErrNotFound):
		return &Failure{Kind: NotFound, Message: "not found"}
	}
	return &Failure{Kind: Unavailable, Message: "temporarily unavailable, retry: " + err.Error()}
}

// JSON answers status with v marshalled as JSON.
// HTML escaping is off: URLs in answers keep their "&" as the services send them.
func JSON(ctx *fasthttp.RequestCtx, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b := []byte(`{"message": "internal error"}`)
	if err := enc.Encode(v); err != nil { // only a dialect's own values are marshalled: a bug, not input
		status = fasthttp.StatusInternalServerError
	} else {
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(b)
}
