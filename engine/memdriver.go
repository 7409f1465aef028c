package engine

import (
	"net/netip"
	"time"

	"github.com/sluiceproxy/sluice/resolver"
)

// MemDriver drives one Session entirely in memory, deterministically: the
// client and upstream connections are byte slices, names resolve from a map,
// dials succeed unless told otherwise, and time moves only when Advance says.
// Tests and the FuzzSession target use it to reach every state of the session
// without sockets.
//
// Owned by the goroutine that uses it.
type MemDriver struct {
	Session Session
	Config  Config

	// Names answers Lookup and Resolve. A name that is absent resolves to
	// resolver.ErrNotFound. With AsyncDNS, Lookup always misses and answers
	// arrive only when ResolveAll is called.
	Names    map[string][]netip.Addr
	AsyncDNS bool
	// RefuseDial lists addresses whose dials fail with ErrUpstreamRefused.
	RefuseDial map[netip.AddrPort]bool
	// ManualDial holds dials until CompleteDials is called.
	ManualDial bool
	// BehindClient and BehindUpstream are what Behind answers; Drained
	// answers ClientDrained.
	BehindClient, BehindUpstream, ClientDrained bool
	// Streams records the bodies handed to stream mode; FinishStream ends the last.
	Streams []StreamSpec
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

	answers      map[string]*resolver.Answer // Lookup's answers, made once per name
	now          time.Time
	timerAt      time.Time // zero when disarmed
	pendingNames []pendingName
	pendingDial  []*MemUpstream
	stream       *memStream // with AutoStream: the body in stream mode
}

// MemUpstream is one in-memory upstream connection.
type MemUpstream struct {
	Addr   netip.AddrPort
	Out    []byte // everything the session wrote to it
	In     []byte // bytes it sent that the session has not consumed
	Open   bool   // dialed successfully and not closed
	Closed bool   // closed by either side
	Reused int    // times it was taken from the pool
	gen    uint32
}

// MemTunnel records a tunnel the session started.
type MemTunnel struct {
	Up         *MemUpstream
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
func NewMemDriver(cfg Config, self ...netip.AddrPort) *MemDriver {
	m := &MemDriver{
		Config:     cfg.withDefaults(),
		Names:      make(map[string][]netip.Addr),
		RefuseDial: make(map[netip.AddrPort]bool),
		now:        time.Unix(1_700_000_000, 0),
	}
	m.Session.Init(&m.Config, m, self, netip.AddrPort{})
	return m
}

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
	m.settle()
}

// ClientHangup closes the client connection.
func (m *MemDriver) ClientHangup() {
	if m.ClientClosed {
		return
	}
	m.ClientClosed = true
	m.stream = nil
	m.Session.ClientClosed()
	if p := m.Pinned; p != nil {
		m.Pinned = nil
		p.Open, p.Closed = false, true
	}
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
	m.settle()
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
		m.streamFailed()
		return
	}
	up.Open, up.Closed = false, true
	m.Up = nil
	m.Session.UpstreamClosed(nil)
	m.settle()
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
		m.Session.Resolved(pn.gen, ans, err)
	}
	m.settle()
}

// CompleteDials finishes every pending dial (with ManualDial).
func (m *MemDriver) CompleteDials() {
	p := m.pendingDial
	m.pendingDial = nil
	for _, up := range p {
		m.finishDial(up)
	}
	m.settle()
}

// Advance moves the clock and fires the session's timer if it is due.
func (m *MemDriver) Advance(d time.Duration) {
	m.now = m.now.Add(d)
	if !m.timerAt.IsZero() && !m.now.Before(m.timerAt) {
		m.timerAt = time.Time{}
		m.Session.Timeout()
		m.settle()
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
	if m.RefuseDial[up.Addr] {
		up.Closed = true
		m.Up = nil
		m.Session.ConnectFailed(up.gen, ErrUpstreamRefused)
		return
	}
	up.Open = true
	m.Session.Connected(up.gen)
}

func (m *MemDriver) feedUpstream(up *MemUpstream) {
	if m.stream != nil {
		if !m.streamMove() {
			return
		}
	}
	for m.Up == up && len(up.In) > 0 {
		n := m.Session.UpstreamData(up.In)
		up.In = consume(up.In, n)
		if n == 0 {
			break
		}
	}
	if t := m.Tunneled; t != nil && t.Up == up {
		t.ToClient = append(t.ToClient, up.In...)
	}
	if m.Up != up {
		up.In = up.In[:0]
	}
}

// settle finishes automatic dials and feeds buffered client bytes until the
// session takes no more.
func (m *MemDriver) settle() {
	for {
		if !m.ManualDial && len(m.pendingDial) > 0 {
			up := m.pendingDial[0]
			m.pendingDial = m.pendingDial[1:]
			m.finishDial(up)
			continue
		}
		if t := m.Tunneled; t != nil {
			t.ToUpstream = append(t.ToUpstream, m.ClientIn...)
			m.ClientIn = m.ClientIn[:0]
			return
		}
		if m.stream != nil {
			if !m.streamMove() {
				return
			}
			continue
		}
		if m.ClientClosed || m.Session.Closed() || len(m.ClientIn) == 0 {
			return
		}
		n := m.Session.ClientData(m.ClientIn)
		m.ClientIn = consume(m.ClientIn, n)
		if n == 0 && (m.ManualDial || len(m.pendingDial) == 0) {
			return
		}
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
func (m *MemDriver) Connect(addr netip.AddrPort, host []byte, fresh bool, gen uint32) (bool, error) {
	if m.Up != nil {
		panic("BUG: engine: Connect with an upstream attached")
	}
	if p := m.Pinned; p != nil {
		m.Pinned = nil
		if !fresh && p.Addr == addr && p.Open {
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
			if up.Addr == addr {
				m.Idle = append(m.Idle[:i], m.Idle[i+1:]...)
				up.Reused++
				up.gen = gen
				m.Up = up
				return true, nil
			}
		}
	}
	up := &MemUpstream{Addr: addr, gen: gen}
	m.Upstreams = append(m.Upstreams, up)
	m.Up = up
	m.pendingDial = append(m.pendingDial, up)
	return false, nil
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

// Tunnel implements Driver. The carried bytes are collected when the session
// call returns (see settle), as the gnet driver does.
func (m *MemDriver) Tunnel(preface []byte) {
	m.Tunneled = &MemTunnel{Up: m.Up, ToClient: append([]byte(nil), preface...)}
	m.Up = nil
}

// Behind implements Driver.
func (m *MemDriver) Behind(toClient bool) bool {
	if toClient {
		return m.BehindClient
	}
	return m.BehindUpstream
}

// Drained implements Driver.
func (m *MemDriver) Drained() bool { return m.ClientDrained }

// StreamBody implements Driver.
func (m *MemDriver) StreamBody(spec StreamSpec) {
	m.Streams = append(m.Streams, spec)
	if m.AutoStream {
		m.stream = &memStream{spec: spec}
	}
}

// FinishStream reports the last streamed body moved, as the gnet driver does
// once both connections are back on the loop.
func (m *MemDriver) FinishStream() {
	m.Session.StreamDone(true, 0)
	m.settle()
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
		user, ok := m.Session.pol.Authenticate([]byte(a.Cred))
		m.Session.Authenticated(a.Gen, user, ok)
	}
	m.settle()
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
