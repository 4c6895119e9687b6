package channel

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Slack posts to a Slack incoming webhook (or anything that speaks its
// payload, such as Mattermost or Rocket.Chat).
type Slack struct {
	URL string `json:"url"` // the incoming-webhook URL; it is the secret
}

// Kind implements Config.
func (*Slack) Kind() string { return "slack" }

func parseSlack(raw []byte) (Config, error) {
	s := new(Slack)
	if err := decodeStrict("slack", raw, s); err != nil {
		return nil, err
	}
	if _, err := parseURL("slack", "url", s.URL); err != nil {
		return nil, err
	}
	return s, nil
}

type slackPayload struct {
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color    string       `json:"color"`
	Fallback string       `json:"fallback"`
	Fields   []slackField `json:"fields"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// slackEscape escapes the three characters Slack's message formatting gives a
// meaning to, so that a check name cannot inject a link or a mention.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackPayloadFor(m Message) slackPayload {
	name := slackEscape.Replace(displayName(m.Check))
	var text, color string
	switch m.Event {
	case EventUp:
		text, color = fmt.Sprintf("The check \"%s\" is now UP.", name), "good"
	case EventTest:
		text, color = fmt.Sprintf("[test] The check \"%s\" is DOWN.", name), "danger"
	default:
		text, color = fmt.Sprintf("The check \"%s\" is DOWN.", name), "danger"
	}
	lastPing := "never"
	if !m.Check.LastPing.IsZero() {
		lastPing = m.Check.LastPing.UTC().Format(time.RFC3339)
	}
	fields := []slackField{{Title: "Last ping", Value: lastPing, Short: true}}
	if !m.FlipAt.IsZero() {
		fields = append(fields, slackField{Title: "Changed at", Value: m.FlipAt.UTC().Format(time.RFC3339), Short: true})
	}
	if len(m.Check.Tags) > 0 {
		fields = append(fields, slackField{Title: "Tags", Value: slackEscape.Replace(strings.Join(m.Check.Tags, " ")), Short: true})
	}
	if m.Check.Desc != "" {
		fields = append(fields, slackField{Title: "Description", Value: slackEscape.Replace(truncate(m.Check.Desc, 2000))})
	}
	return slackPayload{
		Text:        text,
		Attachments: []slackAttachment{{Color: color, Fallback: text, Fields: fields}},
	}
}

func sendSlack(ctx context.Context, env *Env, s *Slack, m Message) (int, error) {
	body, err := json.Marshal(slackPayloadFor(m))
	if err != nil {
		return 0, fmt.Errorf("slack: encoding payload: %w", err)
	}
	return do(ctx, env, request{
		kind: "slack", method: "POST", url: s.URL,
		body: body, ctype: "application/json", idemKey: m.ID,
	})
}
