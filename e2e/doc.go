// Package e2e holds the end-to-end tests: each builds cmd/vigilo once, starts the
// real binary on a free loopback port with a temporary data directory, and drives it
// over HTTP as a client of the Healthchecks.io API and ping URLs would. It has no
// non-test code.
package e2e
