package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigilo/vigilo/cluster"
	"github.com/vigilo/vigilo/engine"
)

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var o engine.Options
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8000", "HTTP listen address")
	fs.StringVar(&o.DataDir, "data", "./data", "data directory (Pebble)")
	fs.StringVar(&o.BaseURL, "base-url", "", "public base URL for ping_url and update_url (default http://<listen>)")
	fs.DurationVar(&o.MinPeriod, "min-period", time.Minute, "shortest timeout and grace accepted (1s..365d)")
	fs.StringVar(&o.APIKey, "api-key", "", "read-write API key of the default project")
	fs.StringVar(&o.ReadOnlyKey, "read-only-key", "", "read-only API key of the default project")
	fs.StringVar(&o.AdminKey, "admin-key", "", "enables the admin API (/admin/v1/) with this bearer key")
	fs.IntVar(&o.PingBodyLimit, "ping-body-limit", 100_000, "largest ping body accepted, bytes")
	fs.IntVar(&o.PingLogLimit, "ping-log-limit", 100, "pings kept per check")
	fs.DurationVar(&o.Tick, "tick", 10*time.Millisecond, "timing wheel resolution")
	fs.DurationVar(&o.ActorIdle, "actor-idle", 30*time.Second, "idle time after which a check's actor passivates (at most twice it)")
	fs.StringVar(&o.MetricsListen, "metrics-listen", "", "separate address serving only /metrics (default: /metrics on --listen)")
	fs.BoolVar(&o.DenyPrivateTargets, "deny-private-targets", false, "refuse alert deliveries to loopback, private and link-local addresses (checked at connect time)")
	fs.DurationVar(&o.NotifyMaxBackoff, "notify-max-backoff", time.Minute, "longest wait between delivery attempts of a notification")
	fs.DurationVar(&o.NotifyMaxAge, "notify-max-age", 24*time.Hour, "how long a notification is retried before it is given up")
	fs.DurationVar(&o.NotifyTimeout, "notify-timeout", 10*time.Second, "time limit of one delivery attempt")
	fs.StringVar(&o.Region, "region", "us", "region this node probes monitors from (labels their response times)")
	fs.BoolVar(&o.PerMonitorMetrics, "per-monitor-metrics", false, "export probe_success and probe_duration_seconds per monitor (one series each; small deployments)")
	fs.StringVar(&o.RDAPServer, "rdap-server", "https://rdap.org/", "RDAP base URL for monitors' domain_expiration")
	fs.IntVar(&o.ProbeWorkers, "probe-workers", 512, "monitor probes in flight at most")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (written at shutdown)")
	clusterID := fs.Uint64("cluster-id", 0, "this node's id in --cluster-peers (cluster mode; 0: a single node)")
	clusterWait := fs.Duration("cluster-wait", 5*time.Second, "cluster mode: how long a request waits for a leader during a failover before it is answered 503")
	clusterJoin := fs.Bool("cluster-join", false, "cluster mode: this node joins a running cluster: it starts empty and asks the members in --cluster-peers to add it")
	clusterTLSCert := fs.String("cluster-tls-cert", "", "cluster mode: this node's certificate (PEM), naming the host of its raft address; with --cluster-tls-key and --cluster-tls-ca, the cluster listeners speak only TLS and take only certificates the CA signed")
	clusterTLSKey := fs.String("cluster-tls-key", "", "cluster mode: the key of --cluster-tls-cert (PEM)")
	clusterTLSCA := fs.String("cluster-tls-ca", "", "cluster mode: the CA certificate (PEM) that signed every node's certificate")
	clusterSecret := fs.String("cluster-secret", "", "cluster mode: a secret every node's cluster listener requires (Authorization: Bearer <secret>), the same on every node; set it whenever the cluster listener is reachable beyond loopback")
	clusterCompact := fs.Int("cluster-compact-every", 10_000, "cluster mode: raft entries applied between two cuts of the log, which keep the last half (a node that needs what was cut is sent a snapshot)")
	clusterShards := fs.Int("cluster-shards", 0, fmt.Sprintf("cluster mode: how many virtual shards the cluster has; the same on every node (a peer started with another count is refused), fixed for the cluster's life; default the data directory's count, or with --cluster-join the cluster's, else %d", cluster.DefaultShards))
	clusterBalance := fs.Duration("cluster-balance", 2*time.Second, "cluster mode: how often a node hands a shard's leadership to a member that leads fewer; 0 never")
	clusterPeers := fs.String("cluster-peers", "", "every node of the cluster, this one included: id=raft-host:port/api-host:port, comma-separated (the API address replaces --listen)")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if *clusterID != 0 || *clusterPeers != "" {
		co := cluster.Options{ID: *clusterID, Engine: o, Wait: *clusterWait, Join: *clusterJoin, CompactEvery: *clusterCompact, Secret: *clusterSecret,
			Shards: *clusterShards, Balance: *clusterBalance}
		switch n := btoi(*clusterTLSCert != "") + btoi(*clusterTLSKey != "") + btoi(*clusterTLSCA != ""); n {
		case 0:
		case 3:
			c, err := cluster.LoadTLS(*clusterTLSCert, *clusterTLSKey, *clusterTLSCA)
			if err != nil {
				return err
			}
			co.TLS = c
		default:
			return errors.New("--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca go together")
		}
		if co.Balance == 0 {
			co.Balance = -1
		}
		return serveCluster(co, *clusterPeers)
	}

	e, err := engine.Open(o)
	if err != nil {
		return err
	}
	if k := e.BootstrapKeys; k != nil {
		fmt.Printf("Created the default project. Its keys are shown only this once:\n"+
			"  api key:        %s\n  read-only key:  %s\n  ping key:       %s\n", k.APIKey, k.ReadOnlyKey, k.Project.PingKey)
	}
	if err := e.Serve(nil); err != nil {
		e.Close()
		return err
	}
	o = o.WithDefaults()
	o.Logger.Info("vigilo serving", "listen", o.Listen, "data", o.DataDir, "checks", e.CheckCount(), "load", e.LoadTime.Round(time.Millisecond))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	o.Logger.Info("shutting down", "signal", s.String())
	return e.Close()
}

// serveCluster runs this process as one node of a cluster until a signal.
func serveCluster(co cluster.Options, peersFlag string) error {
	peers, err := parsePeers(peersFlag)
	if err != nil {
		return fmt.Errorf("--cluster-peers: %w", err)
	}
	id, o := co.ID, co.Engine
	self, ok := peers[id]
	if !ok {
		return fmt.Errorf("--cluster-id %d is not in --cluster-peers", id)
	}
	if o.BaseURL == "" {
		o.BaseURL = "http://" + self.API
	}
	co.Peers, co.Engine = peers, o
	n, err := cluster.Open(co)
	if err != nil {
		return err
	}
	o.Logger.Info("vigilo cluster node serving", "node", id, "api", self.API, "raft", self.Raft, "data", o.DataDir, "peers", len(peers))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	o.Logger.Info("shutting down", "signal", s.String())
	return n.Close()
}

// parsePeers reads "1=host:port/host:port,2=...".
func parsePeers(v string) (map[uint64]cluster.Peer, error) {
	peers := map[uint64]cluster.Peer{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		idText, addrs, ok := strings.Cut(part, "=")
		raft, api, ok2 := strings.Cut(addrs, "/")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%q is not id=raft-host:port/api-host:port", part)
		}
		id, err := strconv.ParseUint(idText, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%q: the id must be a positive integer", part)
		}
		if _, dup := peers[id]; dup {
			return nil, fmt.Errorf("node %d is listed twice", id)
		}
		peers[id] = cluster.Peer{Raft: raft, API: api}
	}
	if len(peers) == 0 {
		return nil, fmt.Errorf("no peers")
	}
	return peers, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
