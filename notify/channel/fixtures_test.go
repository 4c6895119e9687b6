package channel_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vigilo/vigilo/netguard"
	"github.com/vigilo/vigilo/notify/channel"
)

// received is one request as a receiver saw it.
type received struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// receiver is a real HTTP server on loopback that records what it gets and
// answers with status.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// newTLSReceiver serves HTTPS with a certificate of its own (httptest's
// default one is shared by every server).
func newTLSReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	cert, _ := selfSigned(t)
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.Server.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Tests that distrust the certificate on purpose make the server log.
	r.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.StartTLS()
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, received{
		Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
		Header: req.Header.Clone(), Body: body,
	})
	r.mu.Unlock()
	w.WriteHeader(r.status)
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

// one returns the single request the receiver got.
func (r *receiver) one(t *testing.T) received {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(r.got))
	}
	return r.got[0]
}

// env dials through a real netguard.Guard that allows loopback, as
// production does with DenyPrivate off.
func env(t *testing.T) *channel.Env {
	t.Helper()
	g, err := netguard.New(netguard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &channel.Env{Dial: g.DialContext, UserAgent: "vigilo-test"}
}

// tlsEnv trusts srv's certificate.
func tlsEnv(t *testing.T, srv *httptest.Server) *channel.Env {
	t.Helper()
	e := env(t)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	e.TLS = &tls.Config{RootCAs: pool}
	return e
}

func parse(t *testing.T, kind, raw string) channel.Config {
	t.Helper()
	cfg, err := channel.Parse(kind, []byte(raw))
	if err != nil {
		t.Fatalf("Parse(%s, %s): %v", kind, raw, err)
	}
	return cfg
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// decode unmarshals a request body into a generic map, failing the test on
// anything that is not a JSON object.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}

var (
	flipAt   = time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
	lastPing = time.Date(2026, 3, 4, 5, 1, 2, 0, time.FixedZone("CET", 3600))
)

func message(event string) channel.Message {
	return channel.Message{
		ID:     "0195f3a2-7c1e-7b3a-9f00-000000000001",
		Event:  event,
		FlipAt: flipAt,
		Check: channel.Check{
			UUID:     "6f1c2b9e-2a4d-4c1e-8f3b-1234567890ab",
			Name:     `Nightly "backup" <db>`,
			Slug:     "nightly-backup",
			Desc:     "Runs at 02:00.",
			Status:   "down",
			Tags:     []string{"prod", "db"},
			LastPing: lastPing,
		},
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigilo test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func send(t *testing.T, e *channel.Env, cfg channel.Config, m channel.Message) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return channel.Send(ctx, e, cfg, m)
}
