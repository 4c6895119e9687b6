// Package channel turns one notification into one delivery attempt through one
// channel kind: a webhook, Slack, email, PagerDuty or Opsgenie.
//
// It keeps no state and never retries: Send makes exactly one attempt and says
// whether it was accepted and, if not, whether another attempt could help
// (ErrPermanent). Queueing, retries, backoff and the delivery record belong to
// the dispatcher in package notify.
//
// Every connection a delivery makes goes through Env.Dial, which in production
// is a netguard.Guard, so a channel URL cannot reach the server's own network.
package channel
