package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// PagerDuty triggers and resolves incidents through the Events API v2, with
// the check's UUID as the dedup key so that "up" resolves what "down" opened.
type PagerDuty struct {
	RoutingKey string `json:"routing_key"`
	URL        string `json:"url,omitempty"`      // default DefaultPagerDutyURL
	Severity   string `json:"severity,omitempty"` // critical, error, warning or info; default critical
}

// DefaultPagerDutyURL is the Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Kind implements Config.
func (*PagerDuty) Kind() string { return "pagerduty" }

var pagerDutySeverities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

func parsePagerDuty(raw []byte) (Config, error) {
	p := new(PagerDuty)
	if err := decodeStrict("pagerduty", raw, p); err != nil {
		return nil, err
	}
	p.RoutingKey = strings.TrimSpace(p.RoutingKey)
	if p.RoutingKey == "" {
		return nil, fmt.Errorf(`pagerduty: "routing_key" is required`)
	}
	if p.URL == "" {
		p.URL = DefaultPagerDutyURL
	}
	if _, err := parseURL("pagerduty", "url", p.URL); err != nil {
		return nil, err
	}
	p.Severity = strings.ToLower(strings.TrimSpace(p.Severity))
	if p.Severity == "" {
		p.Severity = "critical"
	}
	if !pagerDutySeverities[p.Severity] {
		return nil, fmt.Errorf(`pagerduty: "severity" must be one of critical, error, warning, info`)
	}
	return p, nil
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	CustomDetails map[string]any `json:"custom_details"`
}

func pagerDutyEvent(p *PagerDuty, m Message) pdEvent {
	ev := pdEvent{RoutingKey: p.RoutingKey, EventAction: "resolve", DedupKey: m.Check.UUID}
	if m.Event == EventUp {
		return ev
	}
	ev.EventAction = "trigger"
	summary := fmt.Sprintf("%q is DOWN", displayName(m.Check))
	if m.Event == EventTest {
		summary = "[test] " + summary
	}
	severity := p.Severity
	if severity == "" {
		severity = "critical"
	}
	details := map[string]any{
		"check_uuid":      m.Check.UUID,
		"check_name":      m.Check.Name,
		"notification_id": m.ID,
		"event":           m.Event,
		"tags":            nonNil(m.Check.Tags),
		"last_ping":       nullableTime(m.Check),
	}
	if m.Check.Slug != "" {
		details["slug"] = m.Check.Slug
	}
	if m.Check.Desc != "" {
		details["description"] = truncate(m.Check.Desc, 2000)
	}
	ev.Payload = &pdPayload{
		Summary:       truncate(summary, 1024), // the API rejects longer summaries
		Source:        "vigilo",
		Severity:      severity,
		Timestamp:     rfc3339(m.FlipAt),
		CustomDetails: details,
	}
	return ev
}

// nullableTime is the check's last ping for JSON: a timestamp, or null when it
// never pinged.
func nullableTime(c Check) any {
	if c.LastPing.IsZero() {
		return nil
	}
	return rfc3339(c.LastPing)
}

func sendPagerDuty(ctx context.Context, env *Env, p *PagerDuty, m Message) (int, error) {
	if m.Check.UUID == "" {
		return 0, fmt.Errorf("pagerduty: the message has no check UUID for the dedup key: %w", ErrPermanent)
	}
	body, err := json.Marshal(pagerDutyEvent(p, m))
	if err != nil {
		return 0, fmt.Errorf("pagerduty: encoding event: %w", err)
	}
	u := p.URL
	if u == "" {
		u = DefaultPagerDutyURL
	}
	return do(ctx, env, request{
		kind: "pagerduty", method: "POST", url: u,
		body: body, ctype: "application/json", idemKey: m.ID,
	})
}
