package cluster

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkForwardRoundTrip is one forwarded ping's cost in the framing
// alone, both ends, over loopback TCP: the request framed and sent, read and
// run through a handler that answers as the ping endpoint does, the answer
// framed, sent and read back. What a forwarded ping costs the two nodes
// beyond what the leader's handler does.
func BenchmarkForwardRoundTrip(b *testing.B) {
	fc := framedLink(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("OK")
	})
	b.ReportAllocs()
	b.SetParallelism(16) // requests in flight at once, as under load
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		var resp fasthttp.Response
		for pb.Next() {
			req.Reset()
			req.SetRequestURI("http://127.0.0.1:8000/ping/5f3d9b2e-8c1a-4f7e-9a6b-2d4c8e1f0a3b")
			req.Header.SetUserAgent("curl/8.5.0")
			req.Header.Set(forwardedHeader, "2")
			req.Header.Set(shardHeader, "7")
			req.Header.Set("X-Forwarded-For", "127.0.0.1")
			if _, err := fc.roundTrip(req, &resp, time.Minute, nil); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != fasthttp.StatusOK || string(resp.Body()) != "OK" {
				b.Errorf("answered %d %q", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
	b.StopTimer()
}

// framedLink is a forwarding connection over loopback TCP to a peer that
// answers each frame with handle, both ends closed when tb ends.
func framedLink(tb testing.TB, handle fasthttp.RequestHandler) *fwdConn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := newForwarder(nil, "", nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.serveFrames(c, c, handle)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	fc := newFwdConn(c)
	wg.Add(2)
	go func() {
		defer wg.Done()
		fc.writeLoop()
	}()
	go func() {
		defer wg.Done()
		fc.readAnswers(bufio.NewReaderSize(c, 64<<10))
	}()
	tb.Cleanup(func() {
		fc.fail()
		ln.Close()
		wg.Wait()
	})
	return fc
}
