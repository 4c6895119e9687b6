package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Webhook calls a user's URL, with either a default JSON body or one rendered
// from the user's templates.
type Webhook struct {
	URL    string `json:"url"`
	Method string `json:"method,omitempty"` // default POST
	// Headers are added to every request; they may override Content-Type.
	Headers map[string]string `json:"headers,omitempty"`
	// BodyDown and BodyUp are text/template templates executed with the
	// Message, with a json func for embedding values; empty means the default
	// JSON body. A "test" event uses BodyDown.
	BodyDown string `json:"body_down,omitempty"`
	BodyUp   string `json:"body_up,omitempty"`

	down, up *template.Template // parsed by Parse; nil when empty or not parsed yet
}

// Kind implements Config.
func (*Webhook) Kind() string { return "webhook" }

// Limits on user templates: what a template may cost to render must stay far
// below what one delivery attempt is worth.
const (
	maxTemplate   = 16 << 10
	maxRendered   = 256 << 10
	maxHeaders    = 32
	maxHeaderSize = 8 << 10
)

var webhookMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

func parseWebhook(raw []byte) (Config, error) {
	w := new(Webhook)
	if err := decodeStrict("webhook", raw, w); err != nil {
		return nil, err
	}
	if _, err := parseURL("webhook", "url", w.URL); err != nil {
		return nil, err
	}
	w.Method = strings.ToUpper(strings.TrimSpace(w.Method))
	if w.Method == "" {
		w.Method = http.MethodPost
	}
	if !webhookMethods[w.Method] {
		return nil, fmt.Errorf(`webhook: "method" must be one of GET, POST, PUT, PATCH, DELETE`)
	}
	if len(w.Headers) > maxHeaders {
		return nil, fmt.Errorf(`webhook: "headers" has more than %d entries`, maxHeaders)
	}
	for k, v := range w.Headers {
		if err := checkHeader(k, v); err != nil {
			return nil, err
		}
	}
	if (w.BodyDown != "" || w.BodyUp != "") && !methodHasBody(w.Method) {
		return nil, fmt.Errorf(`webhook: "body_down" and "body_up" cannot be used with method %s, which sends no body`, w.Method)
	}
	var err error
	if w.down, err = parseBody("body_down", w.BodyDown); err != nil {
		return nil, err
	}
	if w.up, err = parseBody("body_up", w.BodyUp); err != nil {
		return nil, err
	}
	return w, nil
}

// Headers the transport computes itself, or that vigilo owns.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Idempotency-Key": true,
}

func checkHeader(name, value string) error {
	if name == "" || !isToken(name) {
		return fmt.Errorf(`webhook: "headers": %q is not a valid header name`, name)
	}
	if reservedHeaders[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf(`webhook: "headers": %q cannot be set`, name)
	}
	if len(name)+len(value) > maxHeaderSize {
		return fmt.Errorf(`webhook: "headers": %q is too long`, name)
	}
	for _, r := range value {
		if r == '\r' || r == '\n' || r == 0 {
			return fmt.Errorf(`webhook: "headers": the value of %q contains a line break`, name)
		}
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token, what a header name must be.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// parseBody parses one body template and renders it once against a sample
// message, so that a reference to a field that does not exist is reported now,
// to the user, rather than at 3 a.m. on every delivery attempt.
func parseBody(key, src string) (*template.Template, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > maxTemplate {
		return nil, fmt.Errorf("webhook: %q is longer than %d bytes", key, maxTemplate)
	}
	t, err := template.New(key).Funcs(templateFuncs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("webhook: %q is not a valid template: %s", key, templateProblem(err))
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		if err := checkRanges(tt.Tree.Root); err != nil {
			return nil, fmt.Errorf("webhook: %q: %v", key, err)
		}
	}
	// An index out of range on the sample says nothing about real checks.
	if _, err := render(t, sampleMessage); err != nil && !strings.Contains(err.Error(), "out of range") {
		return nil, fmt.Errorf("webhook: %q cannot be rendered: %s", key, templateProblem(err))
	}
	return t, nil
}

// checkRanges rejects {{range}} over anything but a field of the message (a
// list such as .Check.Tags): ranging over an integer or a function could make
// rendering run for as long as the template likes, and text/template cannot be
// interrupted.
func checkRanges(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkRanges(c); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return checkBranch(&n.BranchNode)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode)
	case *parse.RangeNode:
		if !rangesOverField(n.Pipe) {
			return errors.New("{{range}} may only loop over a list field such as .Check.Tags")
		}
		return checkBranch(&n.BranchNode)
	}
	return nil
}

func checkBranch(b *parse.BranchNode) error {
	if err := checkRanges(b.List); err != nil {
		return err
	}
	return checkRanges(b.ElseList)
}

func rangesOverField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		// $.Check.Tags, but not a bare $x that might hold a number.
		return len(a.Ident) > 1
	}
	return false
}

func templateProblem(err error) string {
	s := err.Error()
	// "template: body_down:1:5: ..." → "line 1:5: ..."
	if rest, ok := strings.CutPrefix(s, "template: "); ok {
		if i := strings.IndexByte(rest, ':'); i >= 0 {
			return "line " + rest[i+1:]
		}
	}
	return s
}

// errTooLarge stops a template whose output outgrows maxRendered.
var errTooLarge = fmt.Errorf("the rendered body is larger than %d bytes", maxRendered)

type cappedBuffer struct{ bytes.Buffer }

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRendered {
		return 0, errTooLarge
	}
	return b.Buffer.Write(p)
}

func render(t *template.Template, m Message) ([]byte, error) {
	var buf cappedBuffer
	if err := t.Execute(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sampleMessage has every field set, so that a trial render touches them all.
var sampleMessage = Message{
	ID:     "00000000-0000-0000-0000-000000000000",
	Event:  EventTest,
	FlipAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	Check: Check{
		UUID: "00000000-0000-0000-0000-000000000000", Name: "sample", Slug: "sample",
		Desc: "sample", Status: "down", Tags: []string{"sample"},
		LastPing:     time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		AlertMessage: "sample", AlertTags: []string{"sample"}, AlertPriority: "P3",
	},
}

// defaultBody is the webhook JSON when no template is configured.
type defaultBody struct {
	ID       string       `json:"id"`
	Event    string       `json:"event"`
	Check    defaultCheck `json:"check"`
	FlipAt   string       `json:"flip_at"`
	LastPing *string      `json:"last_ping"`
}

type defaultCheck struct {
	UUID string   `json:"uuid"`
	Name string   `json:"name"`
	Slug string   `json:"slug"`
	Tags []string `json:"tags"`
}

func sendWebhook(ctx context.Context, env *Env, w *Webhook, m Message) (int, error) {
	method := w.Method
	if method == "" {
		method = http.MethodPost
	}
	src, key, tmpl := w.BodyDown, "body_down", w.down
	if m.Event == EventUp {
		src, key, tmpl = w.BodyUp, "body_up", w.up
	}
	if tmpl == nil && src != "" {
		// A Webhook built without Parse: parse now, without caching, since
		// Send must not write to a config other goroutines may be reading.
		var err error
		if tmpl, err = parseBody(key, src); err != nil {
			return 0, fmt.Errorf("%v: %w", err, ErrPermanent)
		}
	}

	var body []byte
	ctype := "application/json"
	if tmpl != nil {
		var err error
		if body, err = render(tmpl, m); err != nil {
			return 0, fmt.Errorf("webhook: rendering %q: %s: %w", key, templateProblem(err), ErrPermanent)
		}
		// Most custom bodies are JSON and their authors forget the header.
		ctype = "text/plain; charset=utf-8"
		if json.Valid(body) {
			ctype = "application/json"
		}
	} else {
		b := defaultBody{
			ID:     m.ID,
			Event:  m.Event,
			Check:  defaultCheck{UUID: m.Check.UUID, Name: m.Check.Name, Slug: m.Check.Slug, Tags: nonNil(m.Check.Tags)},
			FlipAt: rfc3339(m.FlipAt),
		}
		if !m.Check.LastPing.IsZero() {
			lp := rfc3339(m.Check.LastPing)
			b.LastPing = &lp
		}
		var err error
		if body, err = json.Marshal(b); err != nil {
			return 0, fmt.Errorf("webhook: encoding body: %w", err)
		}
	}
	if !methodHasBody(method) {
		body = nil
	}

	header := make(http.Header, len(w.Headers))
	for k, v := range w.Headers {
		if err := checkHeader(k, v); err != nil {
			return 0, fmt.Errorf("%v: %w", err, ErrPermanent)
		}
		header.Set(k, v)
	}
	return do(ctx, env, request{
		kind: "webhook", method: method, url: w.URL, header: header,
		body: body, ctype: ctype, idemKey: m.ID,
	})
}

// methodHasBody reports whether a webhook with method sends a body: receivers
// and proxies commonly reject or drop one on GET and DELETE.
func methodHasBody(method string) bool {
	return method != http.MethodGet && method != http.MethodDelete
}
