package e2e

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, key := signCert(t, tmpl, nil, nil)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate for 127.0.0.1, for serving and dialling,
// and its key, under dir; it returns their paths.
func (ca *testCA) issue(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, key := signCert(t, tmpl, ca.cert, ca.key)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// With --cluster-tls-*, the cluster runs over TLS: it elects and
// replicates, forwards pings from every node, and a node that was down
// while the logs were cut catches up by snapshots fetched over TLS. Its
// cluster listener refuses plain HTTP and certificates of another CA.
func TestClusterOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes")
	}
	dir := t.TempDir()
	ca := newTestCA(t, "vigilo e2e cluster CA")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	// One certificate for every node: each names 127.0.0.1.
	certFile, keyFile := ca.issue(t, dir, "node")
	nodes := startCluster(t, "--cluster-tls-cert", certFile, "--cluster-tls-key", keyFile, "--cluster-tls-ca", caFile,
		"--cluster-compact-every=20")
	holder := waitLeader(t, nodes)
	c := holder.create(apiKey, `{"name": "tls", "timeout": 3600, "grace": 3600}`)
	pings := 0
	pingAll := func(alive []*clusterNode) {
		t.Helper()
		for _, n := range alive {
			if code, body := n.ping("/ping/" + c.UUID); code != 200 {
				t.Fatalf("ping through node %d: %d %s", n.id, code, body)
			}
			pings++
		}
	}
	pingAll(nodes) // two of them forwarded to the holder over TLS
	if v := sample(t, scrape(t, nodes[holder.id%3].url), "vigilo_cluster_forwarded_requests_total"); v < 1 {
		t.Fatalf("node %d forwarded %v requests", nodes[holder.id%3].id, v)
	}
	// The clients spoke plain HTTP to every node: the holder logs that,
	// not the scheme of the TLS link a forwarded ping came on.
	code, b := call(t, "GET", holder.url+"/api/v3/checks/"+c.UUID+"/pings/", map[string]string{"X-Api-Key": apiKey}, "")
	var pl struct {
		Pings []struct {
			Scheme string `json:"scheme"`
		} `json:"pings"`
	}
	if err := json.Unmarshal(b, &pl); code != 200 || err != nil || len(pl.Pings) != 3 {
		t.Fatalf("pings of the check: %d %v %s", code, err, b)
	}
	for i, p := range pl.Pings {
		if p.Scheme != "http" {
			t.Errorf("ping %d logged with scheme %q, want http", i, p.Scheme)
		}
	}

	raft := raftAddr(t, holder)
	if code, _, err := plainGet("http://" + raft + "/cluster/v1/members"); err == nil && code < 400 {
		t.Fatalf("plain HTTP to the cluster listener: %d", code)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	withCert := func(certFile, keyFile string) *http.Client {
		t.Helper()
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	}
	rogueCert, rogueKey := newTestCA(t, "another CA").issue(t, dir, "rogue")
	if resp, err := withCert(rogueCert, rogueKey).Get("https://" + raft + "/cluster/v1/members"); err == nil {
		resp.Body.Close()
		t.Fatalf("a certificate of another CA was served: %s", resp.Status)
	}
	resp, err := withCert(certFile, keyFile).Get("https://" + raft + "/cluster/v1/members")
	if err != nil {
		t.Fatalf("the cluster's own certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /cluster/v1/members with the cluster's certificate: %s", resp.Status)
	}

	// A node down while every shard's log is cut comes back by snapshots.
	down := nodes[holder.id%3]
	down.dead.Store(true)
	down.kill9()
	alive := []*clusterNode{}
	for _, n := range nodes {
		if n != down {
			alive = append(alive, n)
		}
	}
	for range 40 {
		pingAll(alive)
	}
	down.spawn()
	down.dead.Store(false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, h := down.health()
		_, lead := holder.health()
		if h.caughtUp(lead) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d did not catch up: %+v, leader %+v\n%s", down.id, h, lead, down.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := sample(t, scrape(t, down.url), `vigilo_raft_snapshots_total{step="installed"}`); v < 1 {
		t.Fatalf("node %d installed %v snapshots: its log was not cut", down.id, v)
	}
	pingAll(nodes)
	got := down.hcCheck(c.UUID)
	if n, _ := got["n_pings"].(float64); int(n) != pings {
		t.Fatalf("n_pings through the node that came back = %v, want %d", got["n_pings"], pings)
	}
}

// raftAddr is a cluster node's raft address, from its flags.
func raftAddr(t *testing.T, n *clusterNode) string {
	t.Helper()
	for _, part := range strings.Split(n.args[4], ",") {
		if rest, ok := strings.CutPrefix(part, fmt.Sprintf("%d=", n.id)); ok {
			return strings.SplitN(rest, "/", 2)[0]
		}
	}
	t.Fatalf("no raft address for node %d in %q", n.id, n.args[4])
	return ""
}

func plainGet(url string) (int, []byte, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil, nil
}
