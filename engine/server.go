package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/pool"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// Resolver is what the engine needs of the DNS cache (resolver.Resolver).
type Resolver interface {
	Lookup(host []byte) *resolver.Answer
	Resolve(host string, cb func(*resolver.Answer, error))
}

// Server runs sessions on an Engine's loops (Config.Engine).
//
// Set once by NewServer or Start: cfg, res, eng, self. The rest is atomic or
// guarded as marked; per-loop state lives in loop and belongs to that loop.
type Server struct {
	cfg  Config
	res  Resolver
	eng  eventloop.Engine
	self []netip.AddrPort

	hostLimit pool.HostLimit
	health    addrHealth // addresses that failed to connect (spread.go)

	ctr struct { // engine counters, atomics (Counters)
		dials, dialErrors               atomic.Int64
		tunnels, tunnelsActive, streams atomic.Int64
		acceptErrors, refused           atomic.Int64
		tlsHandshakes, tlsErrors        atomic.Int64
	}

	// tlsBase is what every TLS origination's client config is cloned
	// from (tlsorig.go); set once by NewServer.
	tlsBase *tls.Config

	ln        *net.TCPListener // the proxy listener; set by Start
	tln       *net.TCPListener // the transparent listener, if configured; set by Start
	acceptors sync.WaitGroup   // the accept loops and the registrations they started
	fds       *FDs             // descriptor budget; set once by NewServer

	conns    atomic.Int64 // open client connections
	upConns  atomic.Int64 // open upstream connections (dialing included)
	draining atomic.Bool
	stopOnce sync.Once
	stopErr  error

	tun tunnels // running tunnels

	// offload bounds the sessions' work running off the loops
	// (Driver.Offload): one token per job; set once by NewServer.
	offload chan struct{}

	// enrolling holds a token per accepted connection being registered
	// with the engine (accept.go: admit); set once by NewServer.
	enrolling chan struct{}

	mu    sync.Mutex
	loops map[eventloop.Loop]*loop // guarded by mu; a loop is added on its first connection
}

// startProcs is GOMAXPROCS as the process started: the default loop count
// (a gnet engine raises GOMAXPROCS while it runs).
var startProcs = runtime.GOMAXPROCS(0)

// NewServer validates cfg and returns a server that is not yet listening.
func NewServer(cfg Config, res Resolver) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	cfg = cfg.WithDefaults()
	if cfg.Loops == 0 {
		cfg.Loops = startProcs
	}
	eng := newEngine(cfg.Engine)
	if eng == nil { // Check knows the names newEngine does
		panic("BUG: engine: no engine " + cfg.Engine)
	}
	fds := newFDs(cfg.Loops)
	if cfg.MaxConns == 0 {
		cfg.MaxConns = connCap(fds)
	}
	s := &Server{
		fds:   fds,
		cfg:   cfg,
		res:   res,
		eng:   eng,
		loops: make(map[eventloop.Loop]*loop),
		// Offloaded work is CPU-bound (compression): about as many jobs
		// as cores, and then some for jobs that wait on memory.
		offload:   make(chan struct{}, 2*startProcs),
		enrolling: make(chan struct{}, maxEnrolling),
		tlsBase:   newTLSConfig(cfg.TLSOrigination),
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
	err := s.eng.Start(eventloop.Options{Loops: s.cfg.Loops, ReadBuffer: s.cfg.ReadBuffer, Logger: s.cfg.Logger}, s)
	if err != nil {
		_ = s.ln.Close()
		if s.tln != nil {
			_ = s.tln.Close()
		}
		return fmt.Errorf("engine: start %s (%s): %w", s.cfg.Listen, s.cfg.Engine, err)
	}
	go s.ticker()
	for range s.cfg.Loops {
		s.acceptors.Add(1)
		go s.acceptLoop(s.ln, false)
		if s.tln != nil {
			s.acceptors.Add(1)
			go s.acceptLoop(s.tln, true)
		}
	}
	return nil
}

// Reload swaps in new Dynamic settings (SIGHUP, POST /reload): the next
// request on every connection is decided by them, while requests in flight
// finish under the ones they started with. It fails, changing nothing, on an
// invalid rewrite header.
func (s *Server) Reload(d Dynamic) error {
	if err := (Config{RewriteHeader: d.RewriteHeader}).Check(); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	s.cfg.SetDynamic(d)
	return nil
}

// Dynamic returns the Dynamic settings in force.
func (s *Server) Dynamic() Dynamic { return *s.cfg.Current() }

// TransparentAddr returns the transparent listener's address (valid only
// when Config.TransparentListen is set and the server started).
func (s *Server) TransparentAddr() netip.AddrPort {
	if s.tln == nil {
		return netip.AddrPort{}
	}
	return s.tln.Addr().(*net.TCPAddr).AddrPort()
}

// Addr returns the address the server listens on.
func (s *Server) Addr() netip.AddrPort {
	if len(s.self) == 0 {
		return netip.AddrPort{}
	}
	return s.self[0]
}

// Done is closed when the server has stopped; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.eng.Done() }

// Err returns the reason the server stopped (nil after a requested stop).
func (s *Server) Err() error { return s.eng.Err() }

// Counters returns the engine's counters.
func (s *Server) Counters() Counters {
	var hits, misses int64
	s.mu.Lock()
	for _, l := range s.loops {
		hits += l.poolHits.Load()
		misses += l.poolMisses.Load()
	}
	s.mu.Unlock()
	return Counters{
		PoolHits: hits, PoolMisses: misses,
		Dials: s.ctr.dials.Load(), DialErrors: s.ctr.dialErrors.Load(),
		TunnelsStarted: s.ctr.tunnels.Load(), TunnelsActive: s.ctr.tunnelsActive.Load(),
		StreamsStarted: s.ctr.streams.Load(),
		AcceptErrors:   s.ctr.acceptErrors.Load(), ConnsRefused: s.ctr.refused.Load(),
		TLSHandshakes: s.ctr.tlsHandshakes.Load(), TLSErrors: s.ctr.tlsErrors.Load(),
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
		if s.tln != nil {
			_ = s.tln.Close()
		}
		s.acceptors.Wait()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.stopErr = s.eng.Stop(sctx)
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
	for _, l := range s.knownLoops() {
		l.x.Execute(func() { f(l) })
	}
}

// knownLoops returns the loops that have had a connection.
func (s *Server) knownLoops() []*loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	loops := make([]*loop, 0, len(s.loops))
	for _, l := range s.loops {
		loops = append(loops, l)
	}
	return loops
}

// ticker drives every loop's timing wheel.
func (s *Server) ticker() {
	t := time.NewTicker(proxy.DefaultTick)
	defer t.Stop()
	for {
		select {
		case <-s.eng.Done():
			return
		case <-t.C:
			s.eachLoop((*loop).tick)
		}
	}
}

// loopFor returns the state of x, creating it on first use.
func (s *Server) loopFor(x eventloop.Loop) *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loops[x]
	if l == nil {
		l = newLoop(s, x)
		l.idx = len(s.loops)
		s.loops[x] = l
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
