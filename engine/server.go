package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/sluiceproxy/sluice/pool"
	"github.com/sluiceproxy/sluice/resolver"
)

// Resolver is what the engine needs of the DNS cache (resolver.Resolver).
type Resolver interface {
	Lookup(host []byte) *resolver.Answer
	Resolve(host string, cb func(*resolver.Answer, error))
}

// Server runs sessions on gnet event loops.
//
// Set once by NewServer or OnBoot: cfg, res, eng, self. The rest is atomic or
// guarded as marked; per-loop state lives in loop and belongs to that loop.
type Server struct {
	cfg  Config
	res  Resolver
	eng  gnet.Engine
	self []netip.AddrPort

	hostLimit pool.HostLimit

	ctr struct { // engine counters, atomics (Counters)
		poolHits, poolMisses, dials, dialErrors atomic.Int64
		tunnels, tunnelsActive, streams         atomic.Int64
		acceptErrors, refused                   atomic.Int64
	}

	ln        *net.TCPListener // the proxy listener; set by Start
	acceptors sync.WaitGroup   // the accept loops
	fds       *FDs             // descriptor budget; set once by NewServer

	conns    atomic.Int64 // open client connections
	upConns  atomic.Int64 // open upstream connections (dialing included)
	draining atomic.Bool
	stopOnce sync.Once
	stopErr  error
	booted   chan struct{} // closed by the first OnTick: the event loops exist
	bootOnce sync.Once
	done     chan struct{} // closed when the engine has stopped
	runErr   error         // set before done is closed

	tun tunnels // running tunnels

	mu    sync.Mutex
	loops map[gnet.EventLoop]*loop // guarded by mu; a loop is added on its first connection
}

// NewServer validates cfg and returns a server that is not yet listening.
func NewServer(cfg Config, res Resolver) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	cfg = cfg.withDefaults()
	if cfg.Loops == 0 {
		cfg.Loops = startProcs
	}
	fds := newFDs(cfg.Loops)
	if cfg.MaxConns == 0 {
		cfg.MaxConns = connCap(fds)
	}
	s := &Server{
		fds:    fds,
		cfg:    cfg,
		res:    res,
		booted: make(chan struct{}),
		done:   make(chan struct{}),
		loops:  make(map[gnet.EventLoop]*loop),
	}
	s.hostLimit.Max = int64(cfg.MaxConnsPerHost)
	return s, nil
}

// Start begins listening and serving in the background. It returns once the
// listener is bound (its address is then Addr) or the engine failed to start.
func (s *Server) Start() error {
	if err := s.listen(); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	h := &handler{srv: s}
	if n := reserveProcs(s.cfg.Loops); n > startProcs {
		s.cfg.Logger.Debug("GOMAXPROCS raised: one P beyond the event loops for Go's netpoller", "gomaxprocs", n, "loops", s.cfg.Loops)
	}
	go func() {
		// gnet listens on an abstract unix socket no client knows; clients
		// come from the accept loops (accept.go).
		err := gnet.Run(h, gnetAddr(),
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.cfg.Loops),
			gnet.WithLoadBalancing(gnet.LeastConnections),
			gnet.WithTicker(true),
			gnet.WithReusePort(false),
			gnet.WithLogger(gnetLogger{s.cfg.Logger}),
			gnet.WithLockOSThread(false),
			gnet.WithReadBufferCap(s.cfg.ReadBuffer),
		)
		if err == nil && !s.draining.Load() {
			// gnet returns nil when accept fails with EMFILE: an engine that
			// stops by itself is a failure (DESIGN.md, gnet facts).
			err = errors.New("engine: event loops stopped unexpectedly")
		}
		s.runErr = err
		releaseProcs(s.cfg.Loops)
		close(s.done)
	}()
	select {
	case <-s.booted:
		go s.ticker()
		for range s.cfg.Loops {
			s.acceptors.Add(1)
			go s.acceptLoop()
		}
		return nil
	case <-s.done:
		_ = s.ln.Close()
		return fmt.Errorf("engine: start %s: %w", s.cfg.Listen, s.runErr)
	}
}

// Reload swaps in new Dynamic settings (SIGHUP, POST /reload): the next
// request on every connection is decided by them, while requests in flight
// finish under the ones they started with. It fails, changing nothing, on an
// invalid rewrite header.
func (s *Server) Reload(d Dynamic) error {
	if err := (Config{RewriteHeader: d.RewriteHeader}).Check(); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	s.cfg.dyn.Store(&d)
	return nil
}

// Dynamic returns the Dynamic settings in force.
func (s *Server) Dynamic() Dynamic { return *s.cfg.dynamic() }

// Addr returns the address the server listens on.
func (s *Server) Addr() netip.AddrPort {
	if len(s.self) == 0 {
		return netip.AddrPort{}
	}
	return s.self[0]
}

// Done is closed when the server has stopped; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the reason the server stopped (nil after a requested stop).
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.runErr
	default:
		return nil
	}
}

// Counters returns the engine's counters.
func (s *Server) Counters() Counters {
	return Counters{
		PoolHits: s.ctr.poolHits.Load(), PoolMisses: s.ctr.poolMisses.Load(),
		Dials: s.ctr.dials.Load(), DialErrors: s.ctr.dialErrors.Load(),
		TunnelsStarted: s.ctr.tunnels.Load(), TunnelsActive: s.ctr.tunnelsActive.Load(),
		StreamsStarted: s.ctr.streams.Load(),
		AcceptErrors:   s.ctr.acceptErrors.Load(), ConnsRefused: s.ctr.refused.Load(),
		FDsUsed: s.fds.Used(), FDsBudget: s.fds.Budget(), FDsRefused: s.fds.Refused(),
	}
}

// Conns reports open client and upstream connections.
func (s *Server) Conns() (client, upstream int64) { return s.conns.Load(), s.upConns.Load() }

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Shutdown drains the server: new connections are closed at once, idle
// keep-alive connections are closed, requests in flight finish (their client
// connections close after the response) until ctx ends; then the engine stops.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.eachLoop(func(l *loop) { l.drain() })
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for s.conns.Load() > 0 {
		select {
		case <-ctx.Done():
			goto stop
		case <-t.C:
		}
	}
stop:
	s.abortTunnels()
	s.stopOnce.Do(func() {
		_ = s.ln.Close()
		s.acceptors.Wait()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.stopErr = s.eng.Stop(sctx)
		<-s.done
		if s.runErr != nil && s.stopErr == nil {
			s.stopErr = s.runErr
		}
	})
	err := s.stopErr
	if err == nil && s.conns.Load() > 0 && ctx.Err() != nil {
		return fmt.Errorf("%w with %d connections open", ErrDrainTimeout, s.conns.Load())
	}
	return err
}

// ErrDrainTimeout is Shutdown's error when connections were still open as its
// context ended; they were dropped.
var ErrDrainTimeout = errors.New("engine: drain timeout")

// Stop stops the server at once, dropping connections.
func (s *Server) Stop() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, ErrDrainTimeout) {
		return err
	}
	return nil
}

// eachLoop runs f on every known loop, on that loop.
func (s *Server) eachLoop(f func(*loop)) {
	s.mu.Lock()
	loops := make([]*loop, 0, len(s.loops))
	for _, l := range s.loops {
		loops = append(loops, l)
	}
	s.mu.Unlock()
	for _, l := range loops {
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			f(l)
			return nil
		}))
	}
}

// ticker drives every loop's timing wheel.
func (s *Server) ticker() {
	t := time.NewTicker(DefaultTick)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.eachLoop((*loop).tick)
		}
	}
}

// loopFor returns the state of el, creating it on first use.
func (s *Server) loopFor(el gnet.EventLoop) *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loops[el]
	if l == nil {
		l = newLoop(s, el)
		s.loops[el] = l
	}
	return l
}

// listenAddrs returns the addresses that reach the listener bound at ap: ap
// itself, or with an unspecified IP the port on every local address.
func listenAddrs(ap netip.AddrPort) []netip.AddrPort {
	out := []netip.AddrPort{ap}
	if !ap.Addr().IsUnspecified() {
		return out
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if pfx, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, netip.AddrPortFrom(pfx.Addr(), ap.Port()))
		}
	}
	return out
}

// connCap is the default client connection cap: each proxied client may
// hold an upstream connection too, so half the fd budget. (The budget itself
// is the real bound; the cap keeps a client flood from starving upstreams.)
func connCap(fds *FDs) int {
	n := fds.Budget() / 2
	if n < 16 {
		n = 16
	}
	if n > 1<<20 {
		n = 1 << 20
	}
	return int(n)
}
