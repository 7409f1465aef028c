// Command gnetrelay is a plain L4 relay on gnet, sluice's default engine: it
// accepts a connection, dials one fixed upstream for it, and copies bytes
// both ways, parsing nothing, resolving nothing, deciding nothing. It is the
// "gnetrelay" row of bench/peers: the floor for any proxy built on gnet and
// the Go runtime on this machine. sluice minus gnetrelay is the cost of
// being HTTP-aware; gnetrelay minus HAProxy's L4 relay ("l4relay") is the
// cost of gnet and the Go runtime against a C event loop.
//
// It runs sluice's defaults: one gnet loop per CPU and one P more than the
// loops (as engine/gnetengine does), level-triggered epoll.
//
// Usage: gnetrelay -listen 127.0.0.1:18121 -upstream 127.0.0.1:18080
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/panjf2000/gnet/v2"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18121", "address to accept clients on")
	upstream := flag.String("upstream", "127.0.0.1:18080", "address every client is relayed to")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "gnet event loops")
	flag.Parse()
	up, err := net.ResolveTCPAddr("tcp", *upstream)
	if err != nil {
		log.Fatalf("gnetrelay: -upstream: %v", err)
	}
	if runtime.GOMAXPROCS(0) < *loops+1 {
		runtime.GOMAXPROCS(*loops + 1)
	}
	r := &relay{up: up}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		if r.eng.Validate() == nil {
			_ = r.eng.Stop(context.Background())
		}
	}()
	err = gnet.Run(r, "tcp://"+*listen,
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(*loops),
		gnet.WithLoadBalancing(gnet.LeastConnections),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gnetrelay:", err)
		os.Exit(1)
	}
}

// relay is the gnet event handler. Each relayed connection's context is its
// *pair; a pair's fields belong to the loop both its connections are on.
type relay struct {
	gnet.BuiltinEventEngine
	eng gnet.Engine
	up  net.Addr
}

// pair is one client connection and its upstream connection.
type pair struct {
	client, up gnet.Conn
}

// OnBoot records the engine, for the signal handler's Stop.
func (r *relay) OnBoot(eng gnet.Engine) gnet.Action {
	r.eng = eng
	return gnet.None
}

// OnOpen starts the dial for an accepted client; for the upstream connection
// it completes, it joins the pair and sends what the client sent meanwhile.
func (r *relay) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if p, ok := c.Context().(*pair); ok { // the upstream, enrolled by Register
		if p.client == nil {
			return nil, gnet.Close // the client left during the dial
		}
		p.up = c
		if n := p.client.InboundBuffered(); n > 0 {
			b, _ := p.client.Next(n)
			_, _ = c.Write(b)
		}
		return nil, gnet.None
	}
	p := &pair{client: c}
	c.SetContext(p)
	ch, err := c.EventLoop().Register(gnet.NewContext(context.Background(), p), r.up)
	if err != nil {
		return nil, gnet.Close
	}
	go func() { // a failed dial closes the client (Close is safe off the loop)
		if res := <-ch; res.Err != nil {
			_ = c.Close()
		}
	}()
	return nil, gnet.None
}

// OnTraffic copies what arrived to the other side; a client's bytes wait in
// its inbound buffer until the upstream is connected.
func (r *relay) OnTraffic(c gnet.Conn) gnet.Action {
	p, ok := c.Context().(*pair)
	if !ok {
		return gnet.Close
	}
	to := p.up
	if c == p.up {
		to = p.client
	}
	if to == nil {
		return gnet.None
	}
	b, _ := c.Next(-1)
	if _, err := to.Write(b); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// OnClose closes the other side.
func (r *relay) OnClose(c gnet.Conn, _ error) gnet.Action {
	p, ok := c.Context().(*pair)
	if !ok {
		return gnet.None
	}
	c.SetContext(nil)
	other := p.up
	if c == p.up {
		other = p.client
		p.up = nil
	} else {
		p.client = nil
	}
	if other != nil {
		_ = other.Close()
	}
	return gnet.None
}
