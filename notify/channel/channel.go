package channel

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Message is one notification.
type Message struct {
	ID     string    // stable notification id (a UUID string); receivers deduplicate on it
	Event  string    // "down", "up" or "test"
	FlipAt time.Time // when the check changed status
	Check  Check
}

// Check is what a notification tells about the check that flipped.
type Check struct {
	UUID, Name, Slug, Desc, Status string
	Tags                           []string
	LastPing                       time.Time // zero: never pinged
	// From the Opsgenie heartbeat API (empty when not set):
	AlertMessage  string
	AlertTags     []string
	AlertPriority string // P1..P5
}

// Events a Message can carry.
const (
	EventDown = "down"
	EventUp   = "up"
	EventTest = "test"
)

// Config is one channel's parsed, validated configuration (one kind's struct,
// e.g. *Webhook). The structs marshal back to the JSON that Parse accepts.
type Config interface{ Kind() string }

// Kinds lists the supported kinds.
var Kinds = []string{"webhook", "slack", "email", "pagerduty", "opsgenie"}

// ErrPermanent is wrapped by Send's error when retrying cannot help: an HTTP
// 4xx other than 408 and 429, an SMTP 5xx, or a message or configuration that
// can never be delivered.
var ErrPermanent = errors.New("permanent failure")

// Env is what a delivery may use. Send may cache per-Env state (an HTTP
// client), so an Env must not be modified once it has been used.
type Env struct {
	// Dial is required: every connection goes through it (netguard).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is the base TLS config (RootCAs in tests); nil = system roots.
	TLS *tls.Config
	// UserAgent is sent with every delivery; default "vigilo".
	UserAgent string
}

func (e *Env) userAgent() string {
	if e.UserAgent == "" {
		return "vigilo"
	}
	return e.UserAgent
}

// tlsConfig returns a config of its own for one connection to serverName, so
// that setting ServerName never writes to the shared base.
func (e *Env) tlsConfig(serverName string) *tls.Config {
	var c *tls.Config
	if e.TLS != nil {
		c = e.TLS.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = serverName
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// Parse validates raw (a JSON object) for kind and fills the defaults. Its error
// is a user-facing message naming the offending key, e.g.
// `webhook: "url" is required`.
func Parse(kind string, raw []byte) (Config, error) {
	switch kind {
	case "webhook":
		return parseWebhook(raw)
	case "slack":
		return parseSlack(raw)
	case "email":
		return parseEmail(raw)
	case "pagerduty":
		return parsePagerDuty(raw)
	case "opsgenie":
		return parseOpsgenie(raw)
	}
	return nil, fmt.Errorf("unknown channel kind %q (want one of %s)", kind, strings.Join(Kinds, ", "))
}

// Send makes one delivery attempt; ctx carries the timeout. status is the HTTP
// status code, or the SMTP reply code of the final command, 0 when none came
// back. err is nil only when the receiver accepted the message;
// errors.Is(err, ErrPermanent) when retrying cannot help.
func Send(ctx context.Context, env *Env, cfg Config, m Message) (status int, err error) {
	if env == nil || env.Dial == nil {
		return 0, errors.New("channel: Env with a Dial function is required")
	}
	switch m.Event {
	case EventDown, EventUp, EventTest:
	default:
		return 0, fmt.Errorf("channel: event %q is not down, up or test: %w", m.Event, ErrPermanent)
	}
	switch c := cfg.(type) {
	case *Webhook:
		return sendWebhook(ctx, env, c, m)
	case *Slack:
		return sendSlack(ctx, env, c, m)
	case *Email:
		return sendEmail(ctx, env, c, m)
	case *PagerDuty:
		return sendPagerDuty(ctx, env, c, m)
	case *Opsgenie:
		return sendOpsgenie(ctx, env, c, m)
	case nil:
		return 0, fmt.Errorf("channel: no config: %w", ErrPermanent)
	}
	return 0, fmt.Errorf("channel: unsupported config type %T: %w", cfg, ErrPermanent)
}

// decodeStrict fills dst from raw, rejecting anything but one JSON object with
// known keys, and turns the decoder's errors into messages a user can act on.
func decodeStrict(kind string, raw []byte, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%s: the configuration must be a JSON object", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%s: %s", kind, jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: unexpected data after the JSON object", kind)
	}
	return nil
}

func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return fmt.Sprintf("the configuration must be a JSON object, not %s", typeErr.Value)
		}
		return fmt.Sprintf("%q must be %s, not %s", typeErr.Field, describeType(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "invalid JSON: unexpected end"
	}
	// encoding/json reports unknown keys only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Sprintf("unknown key %s", name)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func describeType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint16", "uint32", "uint64", "float64":
		return "a number"
	case "slice":
		return "a list"
	case "map", "struct":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a " + kind
}

// eventWord is how notifications name an event to people.
func eventWord(event string) string {
	switch event {
	case EventUp:
		return "UP"
	case EventTest:
		return "TEST"
	}
	return "DOWN"
}

// rfc3339 formats t for payloads, "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// truncate cuts s to at most n runes, marking the cut, because receivers
// reject (rather than trim) fields over their limits.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// nonNil makes an absent list encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// displayName is the check's name, or its UUID when it has none, so that a
// notification never reads `The check "" is DOWN`.
func displayName(c Check) string {
	if c.Name != "" {
		return c.Name
	}
	return c.UUID
}
