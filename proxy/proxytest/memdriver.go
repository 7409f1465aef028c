package proxytest

import (
	"net/netip"
	"sync"
	"time"

	"github.com/sluiceproxy/sluice/pool"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// MemDriver drives one Session entirely in memory, deterministically: the
// client and upstream connections are byte slices, names resolve from a map,
// dials succeed unless told otherwise, and time moves only when Advance says.
// Every event goes through a proxy.Pump, the settle protocol the engines use,
// and what a socket driver does asynchronously (a dial completing, a body
// moving in stream mode, a tunnel starting) happens here as events of their
// own, in the order the engines deliver them. Tests and the FuzzSession
// target use it to reach every state of the session without sockets.
//
// Owned by the goroutine that uses it.
type MemDriver struct {
	pump   proxy.Pump
	Config proxy.Config

	// Names answers Lookup and Resolve. A name that is absent resolves to
	// resolver.ErrNotFound. With AsyncDNS, Lookup always misses and answers
	// arrive only when ResolveAll is called.
	Names    map[string][]netip.Addr
	AsyncDNS bool
	// RefuseDial lists addresses whose dials fail with ErrUpstreamRefused.
	RefuseDial map[netip.AddrPort]bool
	// FailTLS lists server names whose TLS handshakes (TLS origination)
	// fail with an UpstreamTLSError of this error.
	FailTLS map[string]error
	// ManualDial holds dials until CompleteDials is called.
	ManualDial bool
	// BehindClient and BehindUpstream are what Behind answers; Drained
	// answers ClientDrained.
	BehindClient, BehindUpstream, ClientDrained bool
	// Streams records the bodies handed to stream mode; FinishStream ends the last.
	Streams []proxy.StreamSpec
	// AutoStream moves a streamed body itself (memstream.go) instead of
	// waiting for FinishStream.
	AutoStream bool

	ClientIn     []byte // client bytes not yet consumed by the session
	ClientOut    []byte // everything the session wrote to the client
	ClientClosed bool   // the session closed the client connection
	// Tunnel is set when the session handed its connections over as a
	// tunnel: what the client would get first, then the carried bytes.
	Tunneled *MemTunnel

	Up        *MemUpstream   // the attached or dialing upstream, or nil
	Idle      []*MemUpstream // pooled idle upstreams
	Pinned    *MemUpstream   // the upstream kept for this client alone (PinUpstream)
	Upstreams []*MemUpstream // every upstream ever dialed, in order

	Lookups, Resolves int
	// Auths holds credentials waiting for AuthenticateAll.
	Auths []PendingAuth

	// NoOffload refuses Offload, as a busy engine does; DeferOffload holds
	// the jobs until RunOffloads.
	NoOffload, DeferOffload bool
	offloads                []func()
	// ManualWake holds CacheWake calls until WakeAll; otherwise each is
	// delivered as an event of its own once the current one ends.
	ManualWake bool

	// wakes holds CacheWake calls (collapsed forwarding) until WakeAll;
	// guarded by wakeMu, since a leader may run on another goroutine.
	wakeMu sync.Mutex
	wakes  []uint32

	answers      map[string]*resolver.Answer // Lookup's answers, made once per name
	now          time.Time
	timerAt      time.Time // zero when disarmed
	pendingNames []pendingName
	pendingDial  []*MemUpstream
	stream       *memStream // with AutoStream: the body in stream mode
	streamOpen   bool       // a body is in stream mode: the client's bytes wait
}

// MemUpstream is one in-memory upstream connection.
type MemUpstream struct {
	Addr     netip.AddrPort
	Fallback netip.AddrPort // the IPv4 address raced beside Addr (Happy Eyeballs), if any
	Out      []byte         // everything the session wrote to it
	In       []byte         // bytes it sent that the session has not consumed
	Open     bool           // dialed successfully and not closed
	Closed   bool           // closed by either side
	Reused   int            // times it was taken from the pool
	gen      uint32

	// ServerName is the name a TLS upstream (TLS origination) is verified
	// for; "" for plain HTTP.
	ServerName string
}

// MemTunnel records a tunnel the session started.
type MemTunnel struct {
	Up         *MemUpstream
	Preface    []byte // what the session gave Tunnel: the start of ToClient
	ToClient   []byte // preface, then the upstream's unconsumed bytes
	ToUpstream []byte // the client's unconsumed bytes
}

// PendingAuth is a credential the session asked the driver to verify.
type PendingAuth struct {
	Cred string
	Gen  uint32
}

type pendingName struct {
	host string
	gen  uint32
}

// NewMemDriver returns a driver whose session is initialised with cfg
// (defaults applied) and a clock at an arbitrary fixed time.
func NewMemDriver(cfg proxy.Config, self ...netip.AddrPort) *MemDriver {
	m := &MemDriver{
		Config:     cfg.WithDefaults(),
		Names:      make(map[string][]netip.Addr),
		RefuseDial: make(map[netip.AddrPort]bool),
		now:        time.Unix(1_700_000_000, 0),
	}
	m.pump.Init(memPort{m})
	m.pump.S.Init(&m.Config, m, self, netip.AddrPort{})
	return m
}

// Transparent makes the connection one of the transparent listener,
// redirected from orig (Session.Transparent). Call it before any bytes.
func (m *MemDriver) Transparent(orig netip.AddrPort) {
	m.pump.Transparent(orig)
	m.run()
}

// Session returns the session the driver drives.
func (m *MemDriver) Session() *proxy.Session { return &m.pump.S }

// ClientSend delivers bytes from the client and lets the session run.
func (m *MemDriver) ClientSend(b []byte) {
	if m.ClientClosed {
		return
	}
	if t := m.Tunneled; t != nil {
		t.ToUpstream = append(t.ToUpstream, b...)
		return
	}
	m.ClientIn = append(m.ClientIn, b...)
	m.pump.Settle()
	m.run()
}

// ClientHangup closes the client connection.
func (m *MemDriver) ClientHangup() {
	if m.ClientClosed {
		return
	}
	m.ClientClosed = true
	m.stream, m.streamOpen = nil, false
	m.pump.ClientClosed()
	m.run()
}

// UpstreamSend delivers bytes from the attached upstream.
func (m *MemDriver) UpstreamSend(b []byte) {
	if t := m.Tunneled; t != nil {
		t.ToClient = append(t.ToClient, b...)
		return
	}
	up := m.Up
	if up == nil || !up.Open {
		return
	}
	up.In = append(up.In, b...)
	m.feedUpstream(up)
	m.run()
}

// UpstreamHangup closes the attached upstream connection from its side.
func (m *MemDriver) UpstreamHangup() {
	up := m.Up
	if up == nil || !up.Open {
		return
	}
	if m.stream != nil {
		// The close ends a close-delimited body, or cuts any other: either
		// way the stream job closes both connections (stream.go).
		m.stream.encodedEnd(&m.ClientOut)
		m.streamFailed()
		return
	}
	up.Open, up.Closed = false, true
	m.Up = nil
	m.pump.UpstreamClosed(nil)
	m.run()
}

// IdleHangup closes every idle pooled upstream from its side.
func (m *MemDriver) IdleHangup() {
	for _, up := range m.Idle {
		up.Open, up.Closed = false, true
	}
	m.Idle = m.Idle[:0]
}

// ResolveAll answers every pending resolution from Names.
func (m *MemDriver) ResolveAll() {
	p := m.pendingNames
	m.pendingNames = nil
	for _, pn := range p {
		ans, err := m.answer(pn.host)
		m.pump.Resolved(pn.gen, ans, err)
	}
	m.run()
}

// CompleteDials finishes every pending dial (with ManualDial).
func (m *MemDriver) CompleteDials() {
	p := m.pendingDial
	m.pendingDial = nil
	for _, up := range p {
		m.finishDial(up)
	}
	m.run()
}

// Advance moves the clock and fires the session's timer if it is due.
func (m *MemDriver) Advance(d time.Duration) {
	m.now = m.now.Add(d)
	if !m.timerAt.IsZero() && !m.now.Before(m.timerAt) {
		m.timerAt = time.Time{}
		m.pump.Timeout()
		m.run()
	}
}

// TimerArmed reports whether the session's timer is set, and for when.
func (m *MemDriver) TimerArmed() (time.Time, bool) { return m.timerAt, !m.timerAt.IsZero() }

func (m *MemDriver) answer(host string) (*resolver.Answer, error) {
	addrs, ok := m.Names[host]
	if !ok {
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			return nil, resolver.ErrNotFound
		}
	}
	return &resolver.Answer{Addrs: addrs}, nil
}

func (m *MemDriver) finishDial(up *MemUpstream) {
	if m.Up != up {
		up.Closed = true // abandoned while dialing
		return
	}
	if m.RefuseDial[up.Addr] && up.Fallback.IsValid() && !m.RefuseDial[up.Fallback] {
		// Happy Eyeballs: the IPv6 address failed first, the IPv4 one
		// raced beside it connects.
		up.Addr = up.Fallback
	}
	if m.RefuseDial[up.Addr] {
		up.Closed = true
		m.Up = nil
		m.pump.ConnectFailed(up.gen, proxy.ErrUpstreamRefused)
		return
	}
	if err := m.FailTLS[up.ServerName]; up.ServerName != "" && err != nil {
		up.Closed = true
		m.Up = nil
		m.pump.ConnectFailed(up.gen, &proxy.UpstreamTLSError{Err: err})
		return
	}
	up.Open = true
	m.pump.Connected(up.gen)
}

// feedUpstream feeds the attached upstream's bytes, as the engines'
// upstream Traffic does: not while a body streams (the stream moves them)
// or a hand-over is pending.
func (m *MemDriver) feedUpstream(up *MemUpstream) {
	if m.streamOpen {
		return
	}
	for m.Up == up && len(up.In) > 0 && !m.pump.Gone() && !m.pump.Asked() {
		n := m.pump.UpstreamData(up.In)
		up.In = consume(up.In, n)
		if n == 0 {
			break
		}
	}
	if m.Up != up && !m.pump.Asked() {
		up.In = up.In[:0] // released mid-buffer: what is left is not ours
	}
	m.pump.Settle()
}

// run delivers what a socket driver would deliver next by itself: dials
// completing (unless ManualDial), a body in stream mode moving on (with
// AutoStream), and cache wake-ups (unless ManualWake), each as an event of
// its own, until nothing is left to do.
func (m *MemDriver) run() {
	for {
		if !m.ManualDial && len(m.pendingDial) > 0 {
			up := m.pendingDial[0]
			m.pendingDial = m.pendingDial[1:]
			m.finishDial(up)
			continue
		}
		if m.stream != nil && m.streamMove() {
			continue
		}
		if !m.ManualWake && m.wakeOne() {
			continue
		}
		return
	}
}

// consume drops the first n bytes of b, keeping its capacity for reuse.
func consume(b []byte, n int) []byte {
	if n == 0 {
		return b
	}
	return b[:copy(b, b[n:])]
}

// WriteClient implements Driver.
func (m *MemDriver) WriteClient(b []byte) {
	if !m.ClientClosed {
		m.ClientOut = append(m.ClientOut, b...)
	}
}

// CloseClient implements Driver.
func (m *MemDriver) CloseClient() {
	m.ClientClosed = true
	if p := m.Pinned; p != nil {
		m.Pinned = nil
		p.Open, p.Closed = false, true
	}
}

// Lookup implements Driver.
func (m *MemDriver) Lookup(host []byte) *resolver.Answer {
	m.Lookups++
	if m.AsyncDNS {
		return nil
	}
	if ans, ok := m.answers[string(host)]; ok {
		return ans
	}
	ans, err := m.answer(string(host))
	if err != nil {
		ans = &resolver.Answer{Err: err}
	}
	if m.answers == nil {
		m.answers = make(map[string]*resolver.Answer)
	}
	m.answers[string(host)] = ans
	return ans
}

// Resolve implements Driver.
func (m *MemDriver) Resolve(host string, gen uint32) {
	m.Resolves++
	m.pendingNames = append(m.pendingNames, pendingName{host, gen})
}

// Connect implements Driver.
func (m *MemDriver) Connect(key pool.Key, fallback netip.AddrPort, host []byte, fresh bool, gen uint32) (bool, error) {
	if m.Up != nil {
		panic("BUG: engine: Connect with an upstream attached")
	}
	if p := m.Pinned; p != nil {
		m.Pinned = nil
		if !fresh && p.key() == key && p.Open {
			p.Reused++
			p.gen = gen
			m.Up = p
			return true, nil
		}
		p.Open, p.Closed = false, true
	}
	if !fresh {
		for i := len(m.Idle) - 1; i >= 0; i-- {
			up := m.Idle[i]
			if up.key() == key {
				m.Idle = append(m.Idle[:i], m.Idle[i+1:]...)
				up.Reused++
				up.gen = gen
				m.Up = up
				return true, nil
			}
		}
	}
	up := &MemUpstream{Addr: key.Addr, ServerName: key.ServerName, Fallback: fallback, gen: gen}
	m.Upstreams = append(m.Upstreams, up)
	m.Up = up
	m.pendingDial = append(m.pendingDial, up)
	return false, nil
}

// UpstreamAddr implements Driver.
func (m *MemDriver) UpstreamAddr() netip.AddrPort {
	if m.Up == nil {
		return netip.AddrPort{}
	}
	return m.Up.Addr
}

// key is what the pool and the pin match the upstream by.
func (up *MemUpstream) key() pool.Key { return pool.Key{Addr: up.Addr, ServerName: up.ServerName} }

// PickAddr implements Driver: an address with an idle connection (unless
// fresh), else the first IPv6 one, else the first.
func (m *MemDriver) PickAddr(addrs []netip.Addr, port uint16, serverName string, fresh bool) int {
	if !fresh {
		for i, a := range addrs {
			for _, up := range m.Idle {
				if up.key() == (pool.Key{Addr: netip.AddrPortFrom(a, port), ServerName: serverName}) {
					return i
				}
			}
		}
	}
	for i, a := range addrs {
		if a.Is6() && !a.Is4In6() {
			return i
		}
	}
	return 0
}

// WriteUpstream implements Driver.
func (m *MemDriver) WriteUpstream(b []byte) {
	if m.Up != nil && m.Up.Open {
		m.Up.Out = append(m.Up.Out, b...)
	}
}

// ReleaseUpstream implements Driver.
func (m *MemDriver) ReleaseUpstream(reusable bool) {
	up := m.Up
	if up == nil {
		return
	}
	m.Up = nil
	if reusable && up.Open {
		m.Idle = append(m.Idle, up)
		return
	}
	up.Open, up.Closed = false, true
}

// Tunnel implements Driver: the pump hands the tunnel over once the session
// call has returned (memPort.StartTunnel).
func (m *MemDriver) Tunnel(preface []byte) { m.pump.AskTunnel(preface) }

// Behind implements Driver.
func (m *MemDriver) Behind(toClient bool) bool {
	if toClient {
		return m.BehindClient
	}
	return m.BehindUpstream
}

// Drained implements Driver.
func (m *MemDriver) Drained() bool { return m.ClientDrained }

// StreamBody implements Driver: the pump hands the body over once the
// session call has returned (memPort.StartStream).
func (m *MemDriver) StreamBody(spec proxy.StreamSpec) { m.pump.AskStream(spec) }

// FinishStream reports the last streamed body moved, as the engines do once
// both connections are back on the loop.
func (m *MemDriver) FinishStream() {
	m.streamOpen = false
	m.pump.StreamDone(true, 0)
	m.afterStream()
}

// afterStream feeds what arrived during stream mode, as the engines do
// when the connections are back on the loop: the upstream's bytes first.
func (m *MemDriver) afterStream() {
	if up := m.Up; up != nil && up.Open && len(up.In) > 0 {
		m.feedUpstream(up)
		return
	}
	m.pump.Settle()
}

// Authenticate implements Driver.
func (m *MemDriver) Authenticate(cred []byte, gen uint32) error {
	m.Auths = append(m.Auths, PendingAuth{string(cred), gen})
	return nil
}

// PinUpstream implements Driver.
func (m *MemDriver) PinUpstream() {
	up := m.Up
	if up == nil {
		return
	}
	m.Up = nil
	if !up.Open {
		up.Closed = true
		return
	}
	m.Pinned = up
}

// AuthenticateAll verifies every pending credential with the Config's Policy.
func (m *MemDriver) AuthenticateAll() {
	p := m.Auths
	m.Auths = nil
	for _, a := range p {
		user, ok := m.pump.S.Policy().Authenticate([]byte(a.Cred))
		m.pump.Authenticated(a.Gen, user, ok)
	}
	m.run()
}

// Offload implements Driver: f runs at once, as a job finishing before
// anything else happens would (with DeferOffload, when RunOffloads is
// called); with NoOffload it is refused.
func (m *MemDriver) Offload(f func()) bool {
	switch {
	case m.NoOffload:
		return false
	case m.DeferOffload:
		m.offloads = append(m.offloads, f)
	default:
		f()
	}
	return true
}

// RunOffloads runs the jobs DeferOffload held, then delivers what they
// caused.
func (m *MemDriver) RunOffloads() {
	jobs := m.offloads
	m.offloads = nil
	for _, f := range jobs {
		f()
	}
	m.run()
}

// CacheWake implements Driver: the wake-up waits for WakeAll.
func (m *MemDriver) CacheWake(gen uint32) {
	m.wakeMu.Lock()
	m.wakes = append(m.wakes, gen)
	m.wakeMu.Unlock()
}

// Waking reports how many CacheWake calls wait for WakeAll.
func (m *MemDriver) Waking() int {
	m.wakeMu.Lock()
	defer m.wakeMu.Unlock()
	return len(m.wakes)
}

// wakeOne delivers the first pending CacheWake, if any.
func (m *MemDriver) wakeOne() bool {
	m.wakeMu.Lock()
	if len(m.wakes) == 0 {
		m.wakeMu.Unlock()
		return false
	}
	gen := m.wakes[0]
	m.wakes = m.wakes[1:]
	m.wakeMu.Unlock()
	m.pump.CacheWoken(gen)
	return true
}

// WakeAll delivers every pending CacheWake (Pump.CacheWoken).
func (m *MemDriver) WakeAll() {
	m.wakeMu.Lock()
	w := m.wakes
	m.wakes = nil
	m.wakeMu.Unlock()
	for _, gen := range w {
		m.pump.CacheWoken(gen)
	}
	m.run()
}

// SetTimer implements Driver.
func (m *MemDriver) SetTimer(d time.Duration) {
	if d <= 0 {
		m.timerAt = time.Time{}
		return
	}
	m.timerAt = m.now.Add(d)
}

// Now implements Driver.
func (m *MemDriver) Now() time.Time { return m.now }

// memPort is MemDriver's side of its pump (proxy.Port).
type memPort struct{ m *MemDriver }

// Input implements proxy.Port.
func (p memPort) Input() []byte {
	if p.m.ClientClosed {
		return nil
	}
	return p.m.ClientIn
}

// Consume implements proxy.Port.
func (p memPort) Consume(n int) { p.m.ClientIn = consume(p.m.ClientIn, n) }

// Starved implements proxy.Port: nothing is parked in memory.
func (memPort) Starved() {}

// Flush implements proxy.Port: writes land in ClientOut at once.
func (memPort) Flush() {}

// Away implements proxy.Port.
func (p memPort) Away() bool { return p.m.streamOpen }

// StartTunnel implements proxy.Port: the preface, then the upstream's
// unconsumed bytes, go to the client; the client's unconsumed bytes to the
// upstream.
func (p memPort) StartTunnel(preface []byte) {
	m := p.m
	t := &MemTunnel{Up: m.Up, Preface: append([]byte(nil), preface...), ToClient: append([]byte(nil), preface...)}
	if up := m.Up; up != nil {
		t.ToClient = append(t.ToClient, up.In...)
		up.In = up.In[:0]
	}
	t.ToUpstream = append(t.ToUpstream, m.ClientIn...)
	m.ClientIn = m.ClientIn[:0]
	m.Tunneled = t
	m.Up = nil
}

// StartStream implements proxy.Port.
func (p memPort) StartStream(spec proxy.StreamSpec) {
	m := p.m
	m.Streams = append(m.Streams, spec)
	m.streamOpen = true
	if m.AutoStream {
		m.stream = m.newMemStream(spec)
	}
}

// Gone implements proxy.Port: the pinned upstream closes with the client.
func (p memPort) Gone() {
	m := p.m
	m.ClientClosed = true
	if pin := m.Pinned; pin != nil {
		m.Pinned = nil
		pin.Open, pin.Closed = false, true
	}
}

// OverBudget implements proxy.Port: memory is not bounded here.
func (memPort) OverBudget() bool { return false }

// Park implements proxy.Port: never called, as nothing is over budget.
func (memPort) Park() bool { return true }
