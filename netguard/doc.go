// Package netguard is vigilo's outbound dialer: it can refuse to connect to
// loopback, private, link-local and other non-public addresses, so that a URL a
// user typed into a channel or a probe cannot make the server reach its own
// network (SSRF).
//
// The check runs in net.Dialer.Control, after name resolution, on the exact IP
// the socket is about to connect to. Checking a hostname before dialing would
// not be enough: DNS can answer differently the second time (rebinding), and a
// public name can simply resolve to 127.0.0.1.
package netguard
