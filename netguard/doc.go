// Package netguard is vigilo's outbound dialer: it can refuse to connect to
// loopback, private, link-local and other non-public addresses, so that a URL a
// user typed into a channel or a probe cannot make the server reach its own
// network (SSRF).
//
// The check runs on the exact IP the socket is about to connect to, after name
// resolution: in net.Dialer.Control for a name, before the socket is made for
// a numeric address. Checking a hostname before dialing would not be enough:
// DNS can answer differently the second time (rebinding), and a public name
// can simply resolve to 127.0.0.1.
//
// On Linux a numeric TCP address (what the probes dial, having resolved the
// name themselves) gets a socket of the Guard's own, registered with the
// runtime's poller through os.NewFile: a probe is one connection per check,
// and net.Dialer spends system calls on it that a probe does not need (see
// dialTCP). Everything else goes through net.Dialer.
package netguard
