package cluster

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
	"github.com/valyala/fasthttp"
)

// ForwardPath is where a node takes the API requests its peers forward to
// it, on its cluster listener. The first request upgrades the connection;
// from then on it carries many requests at once, each one a frame, the
// answers coming back in whatever order they are done. Forwarding each
// request as its own HTTP exchange cost two reads and two writes on each
// side per ping, more than the rest of the ping's path on a node; frames
// that queue while a write is in progress leave together in the next one.
const ForwardPath = "/cluster/v1/forward"

// forwardUpgrade names the framed protocol in the Upgrade headers.
const forwardUpgrade = "vigilo-forward/1"

// maxFrame bounds one forwarded request or answer: the front listener
// takes bodies up to 4 MiB, and answers (a project's list of checks) may
// be larger.
const maxFrame = 128 << 20

// frameHeader is a frame's length (of what follows it) and its request id.
const frameHeader = 4 + 8

// errForwardGone says a forwarding connection broke with the request on it.
var errForwardGone = errors.New("the forwarding connection to the leader broke")

// forwarder keeps one framed connection to each peer that requests were
// forwarded to, dialled when first needed and again after it breaks, and
// owns the framed connections peers opened to this node.
type forwarder struct {
	bearer []byte
	shards string      // shardsHeader's value
	tls    *tls.Config // dials peers with it when set
	mu     sync.Mutex
	conns  map[string]*fwdConn // by the peer's cluster address
	// served are the connections peers opened to this node.
	served map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newForwarder(bearer []byte, shards string, tc *tls.Config) *forwarder {
	return &forwarder{bearer: bearer, shards: shards, tls: tc, conns: map[string]*fwdConn{}, served: map[net.Conn]struct{}{}}
}

// fwdConn is one framed connection, either end: out is what its writer
// sends, pending the requests (client end) waiting for their answers.
type fwdConn struct {
	c    net.Conn
	out  chan *outFrame
	dead chan struct{}
	once sync.Once

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *bytebufferpool.ByteBuffer
}

func newFwdConn(c net.Conn) *fwdConn {
	return &fwdConn{c: c, out: make(chan *outFrame, 1024), dead: make(chan struct{}), pending: map[uint64]chan *bytebufferpool.ByteBuffer{}}
}

// outFrame is a frame queued for the writer; taken is set when the writer
// began writing it, so that a frame left in the queue of a broken
// connection is known not to have reached the peer. The writer gives b
// back to its pool once written.
type outFrame struct {
	b     *bytebufferpool.ByteBuffer
	taken atomic.Bool
}

// write copies the frame into bw and gives its buffer back.
func (f *outFrame) write(bw *bufio.Writer) error {
	f.taken.Store(true)
	_, err := bw.Write(f.b.B)
	bytebufferpool.Put(f.b)
	f.b = nil
	return err
}

// fail closes the connection and wakes every request waiting on it.
func (fc *fwdConn) fail() {
	fc.once.Do(func() {
		close(fc.dead)
		_ = fc.c.Close()
	})
}

// writeLoop sends the queued frames, flushing only when none is left
// queued, so that the frames of concurrent requests share a write. A peer
// that stops reading (paused, cut off) breaks the connection after
// forwardTimeout instead of holding every request queued behind it.
func (fc *fwdConn) writeLoop() {
	defer fc.fail()
	bw := bufio.NewWriterSize(fc.c, 64<<10)
	for {
		select {
		case <-fc.dead:
			return
		case f := <-fc.out:
			_ = fc.c.SetWriteDeadline(time.Now().Add(forwardTimeout))
			if err := f.write(bw); err != nil {
				return
			}
			for yields := 0; yields <= writeYields; {
				select {
				case f := <-fc.out:
					if err := f.write(bw); err != nil {
						return
					}
				default:
					yields++
					if yields <= writeYields {
						runtime.Gosched()
					}
				}
			}
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// writeYields is how many times a writer with nothing more queued lets the
// goroutines that are about to queue a frame run before it writes.
const writeYields = 2

// send queues a frame; false if the connection is gone, or its queue
// stayed full until expire.
func (fc *fwdConn) send(f *outFrame, expire <-chan time.Time) bool {
	select {
	case fc.out <- f:
		return true
	case <-fc.dead:
		return false
	case <-expire:
		return false
	}
}

// Frames live in pooled buffers, given back once parsed or written to the
// socket: fresh ones cost a forwarded ping four allocations, two at each end.

// readFrame reads one frame: its id and its payload, which the caller
// gives back to bytebufferpool once read.
func readFrame(br *bufio.Reader) (uint64, *bytebufferpool.ByteBuffer, error) {
	h, err := br.Peek(frameHeader)
	if err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	id := binary.BigEndian.Uint64(h[4:frameHeader])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("forwarded frame of %d bytes, over %d", n, maxFrame)
	}
	_, _ = br.Discard(frameHeader)
	p := bytebufferpool.Get()
	p.B = slices.Grow(p.B[:0], int(n))[:n]
	if _, err := io.ReadFull(br, p.B); err != nil {
		bytebufferpool.Put(p)
		return 0, nil, err
	}
	return id, p, nil
}

// frame is a frame for id whose payload write appends.
func frame(id uint64, write func(w *bufio.Writer) error) (*bytebufferpool.ByteBuffer, error) {
	b := bytebufferpool.Get()
	b.B = append(b.B[:0], make([]byte, frameHeader)...)
	bw := bufioWriters.Get().(*bufio.Writer)
	bw.Reset(b)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	bufioWriters.Put(bw)
	if err == nil && len(b.B)-frameHeader > maxFrame {
		err = fmt.Errorf("forwarded frame of %d bytes, over %d", len(b.B)-frameHeader, maxFrame)
	}
	if err != nil {
		bytebufferpool.Put(b)
		return nil, err
	}
	binary.BigEndian.PutUint32(b.B[:4], uint32(len(b.B)-frameHeader))
	binary.BigEndian.PutUint64(b.B[4:frameHeader], id)
	return b, nil
}

// frameReader reads one frame's HTTP message; pooled, with its buffer.
type frameReader struct {
	r  bytes.Reader
	br *bufio.Reader
}

var (
	bufioWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
	frameReaders = sync.Pool{New: func() any {
		fr := &frameReader{}
		fr.br = bufio.NewReaderSize(&fr.r, 4<<10)
		return fr
	}}
)

// parse reads one HTTP message (a request or an answer) from p, and
// gives p back to its pool.
func parse(p *bytebufferpool.ByteBuffer, read func(br *bufio.Reader) error) error {
	fr := frameReaders.Get().(*frameReader)
	fr.r.Reset(p.B)
	fr.br.Reset(&fr.r)
	err := read(fr.br)
	fr.r.Reset(nil)
	frameReaders.Put(fr)
	bytebufferpool.Put(p)
	return err
}

// conn is the framed connection to addr, dialled if there is none: an
// error means nothing was sent.
func (f *forwarder) conn(addr string) (*fwdConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, net.ErrClosed
	}
	if fc := f.conns[addr]; fc != nil {
		select {
		case <-fc.dead:
		default:
			return fc, nil
		}
	}
	// Under the lock: concurrent requests to a peer wait for one dial
	// instead of each opening a connection.
	c, err := dialPeer(addr, f.tls)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	br, err := upgrade(c, f.bearer, f.shards)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("open forwarding to %s: %w", addr, err)
	}
	fc := newFwdConn(c)
	f.conns[addr] = fc
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		fc.writeLoop()
	}()
	go func() {
		defer f.wg.Done()
		fc.readAnswers(br)
	}()
	return fc, nil
}

// upgrade asks the peer to take framed requests on c.
func upgrade(c net.Conn, bearer []byte, shards string) (*bufio.Reader, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "POST " + ForwardPath + " HTTP/1.1\r\nHost: vigilo\r\nConnection: Upgrade\r\nUpgrade: " + forwardUpgrade + "\r\nContent-Length: 0\r\n"
	if len(bearer) > 0 {
		req += "Authorization: " + string(bearer) + "\r\n"
	}
	if shards != "" {
		req += shardsHeader + ": " + shards + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(c, 64<<10)
	var h fasthttp.ResponseHeader
	if err := h.Read(br); err != nil {
		return nil, err
	}
	if h.StatusCode() != fasthttp.StatusSwitchingProtocols {
		return nil, fmt.Errorf("answered %d", h.StatusCode())
	}
	_ = c.SetDeadline(time.Time{})
	return br, nil
}

// readAnswers hands each answer to the request waiting for it.
func (fc *fwdConn) readAnswers(br *bufio.Reader) {
	defer func() {
		fc.fail()
		fc.mu.Lock()
		for id, ch := range fc.pending {
			close(ch)
			delete(fc.pending, id)
		}
		fc.mu.Unlock()
	}()
	for {
		id, p, err := readFrame(br)
		if err != nil {
			return
		}
		fc.mu.Lock()
		ch := fc.pending[id]
		delete(fc.pending, id)
		fc.mu.Unlock()
		if ch != nil {
			ch <- p // room for one: never blocks
		} else {
			bytebufferpool.Put(p)
		}
	}
}

// roundTrip sends req on fc and waits up to timeout for its answer, which
// it reads into resp. sent says whether the request may have reached the
// peer.
func (fc *fwdConn) roundTrip(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration, stop <-chan struct{}) (sent bool, err error) {
	// Neither the channel nor the timer is pooled: tests run this in
	// synctest bubbles, which must not share them.
	ch := make(chan *bytebufferpool.ByteBuffer, 1)
	fc.mu.Lock()
	select {
	case <-fc.dead:
		fc.mu.Unlock()
		return false, errForwardGone
	default:
	}
	fc.nextID++
	id := fc.nextID
	fc.pending[id] = ch
	fc.mu.Unlock()
	forget := func() {
		fc.mu.Lock()
		delete(fc.pending, id)
		fc.mu.Unlock()
	}
	// A frame carries the whole body: a leader told to expect a 100
	// Continue would read the request without it.
	req.Header.Del(fasthttp.HeaderExpect)
	b, err := frame(id, req.Write)
	if err != nil {
		forget()
		return false, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	f := &outFrame{b: b}
	if !fc.send(f, t.C) {
		forget()
		return false, errForwardGone
	}
	select {
	case p, ok := <-ch:
		if !ok {
			return f.taken.Load(), errForwardGone
		}
		resp.Reset()
		resp.SkipBody = req.Header.IsHead()
		if err := parse(p, resp.Read); err != nil {
			return true, fmt.Errorf("read the leader's answer: %w", err)
		}
		return true, nil
	case <-t.C:
		forget()
		return true, fmt.Errorf("the leader did not answer in %v", timeout)
	case <-stop:
		forget()
		return true, net.ErrClosed
	}
}

// serveForward upgrades a peer's connection to framed requests, each
// answered by handle as if it had come to this node's API listener.
func (f *forwarder) serveForward(ctx *fasthttp.RequestCtx, handle fasthttp.RequestHandler) {
	if !ctx.IsPost() || !bytes.EqualFold(ctx.Request.Header.Peek(fasthttp.HeaderUpgrade), []byte(forwardUpgrade)) {
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString("this path takes a connection upgraded to " + forwardUpgrade + "\n")
		return
	}
	ctx.SetStatusCode(fasthttp.StatusSwitchingProtocols)
	ctx.Response.Header.Set(fasthttp.HeaderConnection, "Upgrade")
	ctx.Response.Header.Set(fasthttp.HeaderUpgrade, forwardUpgrade)
	ctx.Hijack(func(c net.Conn) {
		// fasthttp's wrapper reads what its server buffered, but does not
		// close on Close: the socket under it does.
		sock := c
		if u, ok := c.(interface{ UnsafeConn() net.Conn }); ok {
			sock = u.UnsafeConn()
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return
		}
		f.served[sock] = struct{}{}
		f.wg.Add(1)
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.served, sock)
			f.mu.Unlock()
			f.wg.Done()
		}()
		f.serveFrames(c, sock, handle)
	})
}

// serveFrames runs each request read from c in its own goroutine (a ping
// waits for its quorum) and sends back the answers as they come.
func (f *forwarder) serveFrames(c, sock net.Conn, handle fasthttp.RequestHandler) {
	_ = sock.SetDeadline(time.Time{})
	fc := newFwdConn(sock)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer fc.fail()
	wg.Add(1)
	go func() {
		defer wg.Done()
		fc.writeLoop()
	}()
	br := bufio.NewReaderSize(c, 64<<10)
	addrs := &frameConn{local: sock.LocalAddr(), remote: sock.RemoteAddr()}
	for {
		id, p, err := readFrame(br)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := answer(id, p, addrs, handle)
			if err != nil {
				fc.fail() // the peer sent what is not a request: drop it
				return
			}
			if !fc.send(&outFrame{b: a}, nil) {
				bytebufferpool.Put(a)
			}
		}()
	}
}

// answer has handle answer the request in p, and frames the answer. The
// request is read straight into a pooled context, as fasthttp's server
// does: a fresh context per frame, filled by copying a parsed request
// into it, was most of a forwarded ping's allocations.
func answer(id uint64, p *bytebufferpool.ByteBuffer, addrs *frameConn, handle fasthttp.RequestHandler) (*bytebufferpool.ByteBuffer, error) {
	ctx := frameCtxs.Get().(*fasthttp.RequestCtx)
	defer func() {
		// A context a handler hijacked or left to a goroutine
		// (TimeoutError) keeps state that only fasthttp's own server can
		// reset: it is dropped, not reused.
		if ctx.Hijacked() || ctx.LastTimeoutErrorResponse() != nil {
			return
		}
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.ResetUserValues()
		frameCtxs.Put(ctx)
	}()
	ctx.Init2(addrs, frameLogger, true)
	if err := parse(p, ctx.Request.Read); err != nil {
		return nil, fmt.Errorf("read a forwarded request: %w", err)
	}
	handle(ctx)
	ctx.Response.SkipBody = ctx.IsHead()
	return frame(id, ctx.Response.Write)
}

// frameConn is what a forwarded request's context sees of its connection:
// the addresses of the framed link it came on, and nothing to read, write
// or set a deadline on. That link is shared by every request in flight on
// it, and it is not the client's: a handler must not touch it, and must
// not take the link's TLS for the client's (ctx.IsTLS is false here; the
// forwarding node says the client's scheme in X-Forwarded-Proto).
type frameConn struct {
	local, remote net.Addr
}

var errFrameConn = errors.New("a forwarded request has no connection of its own")

func (c *frameConn) Read([]byte) (int, error)         { return 0, errFrameConn }
func (c *frameConn) Write([]byte) (int, error)        { return 0, errFrameConn }
func (c *frameConn) Close() error                     { return nil }
func (c *frameConn) LocalAddr() net.Addr              { return c.local }
func (c *frameConn) RemoteAddr() net.Addr             { return c.remote }
func (c *frameConn) SetDeadline(time.Time) error      { return errFrameConn }
func (c *frameConn) SetReadDeadline(time.Time) error  { return errFrameConn }
func (c *frameConn) SetWriteDeadline(time.Time) error { return errFrameConn }

var (
	frameCtxs   = sync.Pool{New: func() any { return new(fasthttp.RequestCtx) }}
	frameLogger = log.New(os.Stderr, "", log.LstdFlags) // fasthttp's default
)

// close closes every framed connection, both ends, and waits for their
// goroutines.
func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	for _, fc := range f.conns {
		fc.fail()
	}
	for c := range f.served {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// forward sends the request to the leader whose cluster listener is addr;
// false when it may be sent again. by is the forwarded-by header it came
// with.
func (n *Node) forward(ctx *fasthttp.RequestCtx, addr string, shard uint32, by string) bool {
	req := &ctx.Request
	if by != "" {
		req.Header.Set(forwardedHeader, by+","+strconv.FormatUint(n.o.ID, 10))
	} else {
		req.Header.Set(forwardedHeader, strconv.FormatUint(n.o.ID, 10))
	}
	req.Header.Set(shardHeader, strconv.FormatUint(uint64(shard), 10))
	// The ping log records the client's address and scheme, not this
	// node's link to the leader.
	if len(req.Header.Peek("X-Forwarded-For")) == 0 {
		req.Header.Set("X-Forwarded-For", ctx.RemoteIP().String())
	}
	if len(req.Header.Peek("X-Forwarded-Proto")) == 0 {
		proto := "http"
		if ctx.IsTLS() {
			proto = "https"
		}
		req.Header.Set("X-Forwarded-Proto", proto)
	}
	fc, err := n.fwd.conn(addr)
	if err != nil {
		return false
	}
	// Bounded: a leader that stopped answering (paused, or cut off after
	// the connection was made) must not hold the request past what the
	// client would wait for.
	sent, err := fc.roundTrip(req, &ctx.Response, forwardTimeout, n.stop)
	if err != nil {
		// A request that never left may go again, and so may one that
		// HTTP calls idempotent, lost with a leader that died: a ping
		// by GET is then logged twice at worst, where an error would
		// have its client send it again anyway.
		if !sent || errors.Is(err, errForwardGone) && idempotent(req) {
			return false
		}
		n.log.Debug("forwarded request failed", "to", addr, "err", err)
		unavailable(ctx, "the cluster leader did not answer, retry")
		return true
	}
	n.m.forwarded.Inc()
	return true
}

// idempotent says whether HTTP lets req be sent twice (the methods
// fasthttp's client retries).
func idempotent(req *fasthttp.Request) bool {
	return req.Header.IsGet() || req.Header.IsHead() || req.Header.IsPut()
}
