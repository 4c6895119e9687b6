package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// TLS between the nodes. With Options.TLS set, the cluster listener
// serves only TLS and takes only a client certificate that the cluster's
// CA signed, and a node dials its peers' cluster listeners (raft
// messages, forwarded requests, snapshots, membership changes) with its
// own certificate, checking theirs against the same CA. The secret, if
// any, then travels encrypted. The API listener is not affected.

// LoadTLS makes a node's TLS configuration from PEM files: its certificate
// and key, and the CA that signed every node's certificate. A node's
// certificate names the host of its cluster listener (a DNS name or IP
// SAN), and may be used both to serve and to dial (server and client
// auth).
func LoadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster tls: load %s and %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cluster tls: %w", err)
	}
	ca := x509.NewCertPool()
	if !ca.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster tls: %s holds no PEM certificate", caFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca, ClientCAs: ca, MinVersion: tls.VersionTLS13}, nil
}

func validateTLS(c *tls.Config) error {
	switch {
	case c == nil:
		return nil
	case len(c.Certificates) == 0 && c.GetCertificate == nil:
		return errors.New("cluster: Options.TLS has no certificate")
	case c.RootCAs == nil:
		return errors.New("cluster: Options.TLS has no RootCAs to check peers with")
	}
	return nil
}

// serverTLS is the cluster listener's configuration: every client shows a
// certificate the cluster's CA signed.
func serverTLS(c *tls.Config) *tls.Config {
	s := c.Clone()
	if s.ClientCAs == nil {
		s.ClientCAs = s.RootCAs
	}
	s.ClientAuth = tls.RequireAndVerifyClientCert
	return s
}

// scheme is how this node addresses its peers' cluster listeners.
func (n *Node) scheme() string {
	if n.o.TLS != nil {
		return "https://"
	}
	return "http://"
}

// peerClient is an HTTP client for the peers' cluster listeners.
func (n *Node) peerClient(timeout time.Duration, idle int) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: idle, IdleConnTimeout: time.Minute,
		TLSClientConfig: n.o.TLS}}
}

// dialPeer opens a connection to a peer's cluster listener.
func dialPeer(addr string, c *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	if c == nil {
		return d.Dial("tcp", addr)
	}
	// The deadline covers the handshake too.
	return tls.DialWithDialer(d, "tcp", addr, c)
}
