package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Opsgenie creates and closes alerts through the Alert API v2, with the
// check's UUID as the alias so that "up" closes what "down" opened.
type Opsgenie struct {
	APIKey   string `json:"api_key"`
	URL      string `json:"url,omitempty"`      // default DefaultOpsgenieURL; EU accounts use https://api.eu.opsgenie.com
	Priority string `json:"priority,omitempty"` // P1..P5; default P3
}

// DefaultOpsgenieURL is the API base of Opsgenie's US region.
const DefaultOpsgenieURL = "https://api.opsgenie.com"

// Kind implements Config.
func (*Opsgenie) Kind() string { return "opsgenie" }

func validPriority(p string) bool {
	switch p {
	case "P1", "P2", "P3", "P4", "P5":
		return true
	}
	return false
}

func parseOpsgenie(raw []byte) (Config, error) {
	o := new(Opsgenie)
	if err := decodeStrict("opsgenie", raw, o); err != nil {
		return nil, err
	}
	o.APIKey = strings.TrimSpace(o.APIKey)
	if o.APIKey == "" {
		return nil, fmt.Errorf(`opsgenie: "api_key" is required`)
	}
	if strings.ContainsAny(o.APIKey, "\r\n") {
		return nil, fmt.Errorf(`opsgenie: "api_key" contains a line break`)
	}
	if o.URL == "" {
		o.URL = DefaultOpsgenieURL
	}
	u, err := parseURL("opsgenie", "url", o.URL)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf(`opsgenie: "url" is the API base, e.g. %s, without a query`, DefaultOpsgenieURL)
	}
	o.URL = strings.TrimRight(o.URL, "/")
	o.Priority = strings.ToUpper(strings.TrimSpace(o.Priority))
	if o.Priority == "" {
		o.Priority = "P3"
	}
	if !validPriority(o.Priority) {
		return nil, fmt.Errorf(`opsgenie: "priority" must be one of P1, P2, P3, P4, P5`)
	}
	return o, nil
}

type ogAlert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description"`
	Tags        []string          `json:"tags"`
	Priority    string            `json:"priority"`
	Source      string            `json:"source"`
	Details     map[string]string `json:"details"`
}

type ogClose struct {
	Source string `json:"source"`
	Note   string `json:"note"`
}

// Opsgenie's documented field limits; longer values make it reject the alert.
const (
	ogMaxMessage     = 130
	ogMaxDescription = 15000
	ogMaxTags        = 20
	ogMaxTag         = 50
)

func opsgenieAlert(o *Opsgenie, m Message) ogAlert {
	c := m.Check
	msg := c.AlertMessage
	if msg == "" {
		msg = fmt.Sprintf("%q is down", displayName(c))
	}
	if m.Event == EventTest {
		msg = "[test] " + msg
	}
	tags := c.AlertTags
	if len(tags) == 0 {
		tags = c.Tags
	}
	clean := make([]string, 0, min(len(tags), ogMaxTags))
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" && len(clean) < ogMaxTags {
			clean = append(clean, truncate(t, ogMaxTag))
		}
	}
	prio := o.Priority
	if validPriority(c.AlertPriority) {
		prio = c.AlertPriority
	} else if prio == "" {
		prio = "P3"
	}
	desc := c.Desc
	if desc == "" {
		desc = fmt.Sprintf("The check %q did not ping in time.", displayName(c))
	}
	details := map[string]string{
		"check_uuid":      c.UUID,
		"check_name":      c.Name,
		"notification_id": m.ID,
		"event":           m.Event,
		"flip_at":         rfc3339(m.FlipAt),
		"last_ping":       "never",
	}
	if !c.LastPing.IsZero() {
		details["last_ping"] = rfc3339(c.LastPing)
	}
	if c.Slug != "" {
		details["slug"] = c.Slug
	}
	return ogAlert{
		Message:     truncate(msg, ogMaxMessage),
		Alias:       c.UUID,
		Description: truncate(desc, ogMaxDescription),
		Tags:        clean,
		Priority:    prio,
		Source:      "vigilo",
		Details:     details,
	}
}

func sendOpsgenie(ctx context.Context, env *Env, o *Opsgenie, m Message) (int, error) {
	if m.Check.UUID == "" {
		return 0, fmt.Errorf("opsgenie: the message has no check UUID for the alias: %w", ErrPermanent)
	}
	base := strings.TrimRight(o.URL, "/")
	if base == "" {
		base = DefaultOpsgenieURL
	}
	var target string
	var payload any
	if m.Event == EventUp {
		target = base + "/v2/alerts/" + url.PathEscape(m.Check.UUID) + "/close?identifierType=alias"
		payload = ogClose{Source: "vigilo", Note: fmt.Sprintf("%q is up again.", displayName(m.Check))}
	} else {
		target = base + "/v2/alerts"
		payload = opsgenieAlert(o, m)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("opsgenie: encoding payload: %w", err)
	}
	header := http.Header{}
	header.Set("Authorization", "GenieKey "+o.APIKey)
	return do(ctx, env, request{
		kind: "opsgenie", method: "POST", url: target, header: header,
		body: body, ctype: "application/json", idemKey: m.ID,
	})
}
