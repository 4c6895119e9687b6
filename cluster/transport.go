package cluster

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/vigilo/vigilo/cluster/raftlog"
)

// RaftPath is where a node takes the raft messages of its peers, on its
// cluster listener.
const RaftPath = "/cluster/v1/raft"

// transport carries raft messages between nodes over HTTP: one POST per
// batch, to the peer's cluster listener, from one sender goroutine per
// peer. Send encodes on the raft loop (raft's messages must not be
// marshalled concurrently with its appends) and never blocks: a peer whose
// queue is full, or whose POST fails, loses those messages, which raft
// retransmits.
type transport struct {
	log    *slog.Logger
	self   uint64
	bearer []byte       // Authorization, when the cluster has a secret
	shards string       // shardsHeader's value
	tls    *tls.Config  // dials peers with it when set
	mu     sync.RWMutex // peers changes with membership
	peers  map[uint64]*sender
	wg     sync.WaitGroup
	stop   chan struct{}
}

type sender struct {
	id     uint64
	client *fasthttp.HostClient
	queue  chan []byte
	gone   chan struct{} // closed when the peer leaves
}

const senderQueue = 256

func newTransport(self uint64, peers map[uint64]Peer, bearer []byte, shards string, tc *tls.Config, log *slog.Logger) *transport {
	t := &transport{log: log, self: self, bearer: bearer, shards: shards, tls: tc, peers: map[uint64]*sender{}, stop: make(chan struct{})}
	for id, p := range peers {
		t.setPeer(id, p)
	}
	return t
}

// setPeer starts sending to the peer at p (again, if its address changed).
func (t *transport) setPeer(id uint64, p Peer) {
	if id == t.self {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.peers[id]; old != nil {
		if old.client.Addr == p.Raft {
			return
		}
		close(old.gone)
	}
	s := &sender{
		id: id,
		client: &fasthttp.HostClient{
			Addr: p.Raft, MaxConns: 2,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
			MaxIdleConnDuration: time.Minute,
			IsTLS:               t.tls != nil, TLSConfig: t.tls,
		},
		queue: make(chan []byte, senderQueue),
		gone:  make(chan struct{}),
	}
	t.peers[id] = s
	t.wg.Add(1)
	go t.run(s)
}

// removePeer stops sending to the peer.
func (t *transport) removePeer(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.peers[id]; s != nil {
		close(s.gone)
		delete(t.peers, id)
	}
}

// Send implements raftlog.Transport.
func (t *transport) Send(to uint64, msgs []raftlog.Envelope) {
	t.mu.RLock()
	s := t.peers[to]
	t.mu.RUnlock()
	if s == nil {
		return
	}
	// Bodies of at most maxBody (or one message): a catching-up peer is
	// sent many appends at once.
	for len(msgs) > 0 {
		body, k, err := encodeEnvelopes(msgs, maxBody)
		if err != nil {
			t.log.Error("encode raft messages", "to", to, "err", err)
			return
		}
		msgs = msgs[k:]
		select {
		case s.queue <- body:
		default: // the peer is slow or gone: raft retransmits
		}
	}
}

// maxBody bounds one POST's body (appends are at most about 1 MiB each).
const maxBody = 4 << 20

func (t *transport) run(s *sender) {
	defer t.wg.Done()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	scheme := "http://"
	if t.tls != nil {
		scheme = "https://"
	}
	req.SetRequestURI(scheme + s.client.Addr + RaftPath)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/octet-stream")
	if t.bearer != nil {
		req.Header.SetBytesV(fasthttp.HeaderAuthorization, t.bearer)
	}
	req.Header.Set(shardsHeader, t.shards)
	var refusedAt time.Time
	for {
		var body []byte
		select {
		case <-t.stop:
			return
		case <-s.gone:
			s.client.CloseIdleConnections()
			return
		case body = <-s.queue:
		}
		// What queued meanwhile goes in the same POST.
	more:
		for len(body) < maxBody/4 {
			select {
			case b := <-s.queue:
				body = append(body, b...)
			default:
				break more
			}
		}
		req.SetBody(body)
		err := s.client.Do(req, resp)
		switch {
		case err == nil && resp.StatusCode() == fasthttp.StatusPreconditionFailed:
			// Another shard count: a misconfigured node, which no retry
			// mends, said loudly but once a minute (raft retries often).
			if now := time.Now(); now.Sub(refusedAt) > time.Minute {
				refusedAt = now
				t.log.Error("raft messages refused", "to", s.id, "answer", string(bytes.TrimSpace(resp.Body())))
			}
		case err != nil || resp.StatusCode() != fasthttp.StatusNoContent:
			t.log.Debug("raft messages not delivered", "to", s.id, "err", err, "status", resp.StatusCode())
		}
	}
}

func (t *transport) close() {
	close(t.stop)
	t.wg.Wait()
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, s := range t.peers {
		s.client.CloseIdleConnections()
	}
}

// A body is envelopes back to back: uvarint shard, uvarint length, the
// message's protobuf encoding.
// encodeEnvelopes encodes the first messages that fit in limit bytes (at
// least one) and says how many it took.
func encodeEnvelopes(msgs []raftlog.Envelope, limit int) ([]byte, int, error) {
	var out []byte
	k := 0
	for _, m := range msgs {
		b, err := proto.Marshal(m.Msg)
		if err != nil {
			return nil, 0, err
		}
		if k > 0 && len(out)+len(b)+2*binary.MaxVarintLen64 > limit {
			break
		}
		out = binary.AppendUvarint(out, uint64(m.Shard))
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
		k++
	}
	return out, k, nil
}

var errBadBody = errors.New("raft message body does not decode")

func decodeEnvelopes(body []byte) ([]raftlog.Envelope, error) {
	var out []raftlog.Envelope
	for len(body) > 0 {
		shard, k := binary.Uvarint(body)
		if k <= 0 || shard > 1<<16 {
			return nil, errBadBody
		}
		body = body[k:]
		n, k := binary.Uvarint(body)
		if k <= 0 || uint64(len(body)-k) < n {
			return nil, errBadBody
		}
		m := new(pb.Message)
		if err := proto.Unmarshal(body[k:k+int(n)], m); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadBody, err)
		}
		out = append(out, raftlog.Envelope{Shard: uint32(shard), Msg: m})
		body = body[k+int(n):]
	}
	return out, nil
}
