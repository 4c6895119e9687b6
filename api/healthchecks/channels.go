package healthchecks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine/store"
)

// Channels: Healthchecks.io's GET channels/ and check assignment through the
// check's channels field, plus vigilo's extension that manages channels with
// the read-write key (README, "Alerts"): create, get, update, delete and test.

// resolveChannels is Healthchecks.io's handling of a check's channels field:
// "*" assigns every channel the project has now, "" none, else a comma-separated
// list of channel ids, each of which must be one of the project's.
func (a *API) resolveChannels(project uuid.UUID, field string) (string, error) {
	have := a.b.Channels(project)
	if field == "*" {
		ids := make([]string, len(have))
		for i, ch := range have {
			ids[i] = ch.ID.String()
		}
		return strings.Join(ids, ","), nil
	}
	if field == "" {
		return "", nil
	}
	var ids []string
	for _, chunk := range strings.Split(field, ",") {
		chunk = strings.TrimSpace(chunk)
		if chunk == "" {
			return "", errors.New("empty channel identifier")
		}
		id, err := uuid.Parse(chunk)
		found := false
		for _, ch := range have {
			found = found || (err == nil && ch.ID == id)
		}
		if !found {
			return "", fmt.Errorf("invalid channel identifier: %s", chunk)
		}
		if s := id.String(); !contains(ids, s) {
			ids = append(ids, s)
		}
	}
	return strings.Join(ids, ","), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// channelRoute serves channels/<id> and channels/<id>/test.
func (a *API) channelRoute(parts []string, get, post, del bool) (route, bool) {
	if len(parts) < 2 || len(parts) > 3 {
		return route{}, false
	}
	id, err := uuid.Parse(parts[1])
	if err != nil || len(parts[1]) != 36 {
		return route{}, false
	}
	if len(parts) == 3 {
		if parts[2] != "test" {
			return route{}, false
		}
		if post {
			return route{func(r *request) { a.testChannel(r, id) }, false}, true
		}
		return route{}, true
	}
	switch {
	case get:
		return route{func(r *request) { a.getChannel(r, id) }, false}, true
	case post:
		return route{func(r *request) { a.updateChannel(r, id) }, false}, true
	case del:
		return route{func(r *request) { a.deleteChannel(r, id) }, false}, true
	}
	return route{}, true
}

func channelJSON(ch *store.Channel, withConfig bool) map[string]any {
	m := map[string]any{"id": ch.ID.String(), "name": ch.Name, "kind": ch.Kind}
	if withConfig {
		m["config"] = json.RawMessage(ch.Config)
		if len(ch.Config) == 0 {
			m["config"] = map[string]any{}
		}
	}
	return m
}

func (a *API) channels(r *request) {
	list := a.b.Channels(r.project)
	out := make([]map[string]any, 0, len(list))
	for i := range list {
		out = append(out, channelJSON(&list[i], false))
	}
	writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"channels": out})
}

// channelBody is a create or update request; nil fields were absent.
type channelBody struct {
	name, kind *string
	config     json.RawMessage
}

func decodeChannelBody(body []byte) (channelBody, error) {
	var cb channelBody
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		if json.Valid(body) {
			return cb, errors.New("json validation error: value is not an object")
		}
		return cb, errors.New("could not parse request body")
	}
	for k, v := range raw {
		switch k {
		case "api_key":
		case "name", "kind":
			var s string
			if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
				return cb, fmt.Errorf("json validation error: %s is not a string", k)
			}
			if k == "name" {
				if len(s) > 100 {
					return cb, errors.New("json validation error: name is too long")
				}
				cb.name = &s
			} else {
				cb.kind = &s
			}
		case "config":
			if len(v) == 0 || v[0] != '{' {
				return cb, errors.New("json validation error: config is not an object")
			}
			cb.config = v
		default:
			return cb, fmt.Errorf("json validation error: unknown field %q", k)
		}
	}
	return cb, nil
}

// channelFail answers a channel call's error: the caller's mistake as 400.
func channelFail(r *request, err error) {
	var ce *ChannelError
	if errors.As(err, &ce) {
		writeError(r.ctx, fasthttp.StatusBadRequest, ce.Msg)
		return
	}
	fail(r, err)
}

func (a *API) createChannel(r *request) {
	cb, err := decodeChannelBody(r.body)
	switch {
	case err != nil:
	case cb.kind == nil:
		err = errors.New("json validation error: kind is required")
	case cb.config == nil:
		err = errors.New("json validation error: config is required")
	}
	if err != nil {
		writeError(r.ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	id, err := uuid.NewRandom()
	if err != nil {
		fail(r, err)
		return
	}
	ch := store.Channel{ID: id, ProjectID: r.project, Kind: *cb.kind, Config: cb.config, Created: a.o.Now().UTC()}
	if cb.name != nil {
		ch.Name = *cb.name
	}
	ch, err = a.b.SaveChannel(ch)
	if err != nil {
		channelFail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusCreated, channelJSON(&ch, false))
}

func (a *API) getChannel(r *request, id uuid.UUID) {
	ch, err := a.b.Channel(r.project, id)
	if err != nil {
		fail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, channelJSON(&ch, true))
}

func (a *API) updateChannel(r *request, id uuid.UUID) {
	cb, err := decodeChannelBody(r.body)
	if err != nil {
		writeError(r.ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	ch, err := a.b.Channel(r.project, id)
	if err != nil {
		fail(r, err)
		return
	}
	if cb.kind != nil && *cb.kind != ch.Kind && cb.config == nil {
		writeError(r.ctx, fasthttp.StatusBadRequest, "json validation error: a new kind needs its config")
		return
	}
	if cb.name != nil {
		ch.Name = *cb.name
	}
	if cb.kind != nil {
		ch.Kind = *cb.kind
	}
	if cb.config != nil {
		ch.Config = cb.config
	}
	ch, err = a.b.SaveChannel(ch)
	if err != nil {
		channelFail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, channelJSON(&ch, false))
}

func (a *API) deleteChannel(r *request, id uuid.UUID) {
	ch, err := a.b.Channel(r.project, id)
	if err == nil {
		err = a.b.DeleteChannel(r.project, id)
	}
	if err != nil {
		fail(r, err)
		return
	}
	writeJSON(r.ctx, fasthttp.StatusOK, channelJSON(&ch, false))
}

// testChannel answers 200 whether or not the receiver took it: the outcome is
// the answer, in the shape of one notification attempt.
func (a *API) testChannel(r *request, id uuid.UUID) {
	at, err := a.b.TestChannel(r.project, id)
	if err != nil {
		fail(r, err)
		return
	}
	m := attemptJSON(&at)
	m["delivered"] = at.Error == ""
	writeJSON(r.ctx, fasthttp.StatusOK, m)
}

func attemptJSON(at *store.Attempt) map[string]any {
	m := map[string]any{
		"at":              at.At.UTC().Format(time.RFC3339Nano),
		"status":          at.Status,
		"error":           at.Error,
		"latency_seconds": at.Latency.Seconds(),
	}
	return m
}

func (a *API) notifications(r *request, id string) {
	list, err := a.b.Notifications(r.project, uuid.MustParse(id))
	if err != nil {
		fail(r, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for i := range list {
		n := &list[i]
		attempts := make([]map[string]any, 0, len(n.Attempts))
		for j := range n.Attempts {
			attempts = append(attempts, attemptJSON(&n.Attempts[j]))
		}
		out = append(out, map[string]any{
			"id":         n.ID.String(),
			"channel":    n.ChannelID.String(),
			"event":      n.Event,
			"created":    n.Created.UTC().Format(time.RFC3339Nano),
			"flip_at":    n.FlipAt.UTC().Format(time.RFC3339Nano),
			"state":      n.State,
			"n_attempts": n.NAttempts,
			"attempts":   attempts,
		})
	}
	writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"notifications": out})
}

// liveChannels is a check's channels field without the channels deleted since
// it was set, as Healthchecks.io, whose assignment goes with the channel, shows it.
func (a *API) liveChannels(project uuid.UUID, field string) string {
	if field == "" {
		return ""
	}
	have := a.b.Channels(project)
	var out []string
	for _, chunk := range strings.Split(field, ",") {
		for _, ch := range have {
			if ch.ID.String() == chunk {
				out = append(out, chunk)
				break
			}
		}
	}
	return strings.Join(out, ",")
}
