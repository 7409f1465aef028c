package proxy

import (
	"net/netip"
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/internal/ascii"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/pool"
	"github.com/sluiceproxy/sluice/resolver"
)

// state is where a Session is in its current request.
type state uint8

const (
	stIdle       state = iota // between requests, nothing of the next head received
	stHead                    // part of a request head received
	stAuth                    // waiting for a proxy credential to be verified (bcrypt, off the loop)
	stCacheWait               // waiting for another request's response to the same key (collapsed forwarding)
	stResolving               // waiting for the resolver
	stConnecting              // waiting for an upstream connection
	stExchange                // request head sent: request body and/or response in progress
	stTunnel                  // handed to the driver as a byte tunnel (CONNECT, Upgrade)
	stPeek                    // a CONNECT to an HTTP port answered 200; its first bytes awaited
	stSniff                   // a transparent connection's first bytes awaited (session_transparent.go)
	stClosed                  // client closed or closing: every event is ignored
)

// respPhase is where the response of the current exchange is.
type respPhase uint8

const (
	respHead respPhase = iota // waiting for a (final) response head
	respBody                  // relaying the response body
)

// Session is the proxy logic of one client connection: HTTP/1.1 requests in,
// forwarded requests out, responses back, strictly one request at a time (a
// pipelined request is read only once the previous response has ended, so
// responses are in order by construction).
//
// Owned by the goroutine that drives it (its event loop); never shared.
// Byte slices given to its methods are valid only during the call.
type Session struct {
	// Set once by Init.
	cfg *Config
	d   Driver
	via []byte
	// self holds sluice's own listening addresses, for loop detection.
	self []netip.AddrPort
	// shard is the driver's event loop, copied into each Record (SetShard).
	shard int

	st  state
	gen uint32 // incremented per request; asynchronous results carry it

	// What the current request is decided by: the server's Dynamic
	// settings as the request started (a reload swaps them for the next
	// request; a request in flight keeps the ones it started with).
	pol        *policy.Policy
	rewriteHdr string
	drain      bool // close the client connection after the current response

	// The current request. rp.Req's spans point into head, a copy of the head
	// the session owns, so the request survives waiting for DNS or a dial.
	rp         parser.RequestParser
	head       []byte
	authority  []byte // Host value to forward: a subslice of head
	hostLower  []byte // lower-case destination host (resolver key)
	port       uint16
	addrs      []netip.Addr
	addrIdx    int  // the address being tried (pickAddr chose the first)
	addrTried  int  // addresses that failed to connect, for this request
	raced      bool // the dial in progress races an IPv4 address (happyFallback)
	parentWait bool // a CONNECT was sent to a parent proxy: its answer is awaited (session_parent.go)
	reqFrame   parser.Framing
	reqRemain  int64 // Content-Length bytes left to forward
	reqChunks  parser.ChunkedDecoder
	haveHead   bool      // rp.Req holds the current request's parsed head
	reqDone    bool      // request body entirely forwarded
	retried    bool      // the request was already retried once on a fresh connection
	attempts   int       // upstream connection attempts for this request
	connBegin  time.Time // when the first of them started
	tunnel     bool      // the request is a CONNECT: a tunnel once connected
	rewritten  bool      // a per-rule rewrite header already retargeted the request
	user       []byte
	decision   policy.Decision // the destination rules' decision (Upgrade checks)
	connAuth   bool            // the exchange uses connection-bound auth: pin its upstream
	addrBuf    []netip.Addr    // resolved addresses the policy allows; reused
	extraHdr   []byte          // extra header lines for sluice's own error response

	// Set across requests: the client connection has a private upstream
	// connection for pinKey (Driver.PinUpstream).
	pinned bool
	pinKey pool.Key

	// TLS origination (tls.go): the current request goes to its origin
	// over TLS, verified for tlsName. tlsName is kept across requests, so
	// a client that keeps asking one origin costs no allocation.
	upTLS   bool
	tlsName string

	// Set across requests: the CONNECT destination the connection is bound
	// to (session_connect.go); nil for almost every connection, so it is
	// allocated only when one binds.
	bound  *boundTo
	peeked bool // a CONNECT to an HTTP port turned out not to carry HTTP

	// Set once by Transparent: the connection came through the
	// transparent listener, redirected from orig (session_transparent.go).
	transparent bool
	orig        netip.AddrPort
	transMethod []byte // the tunnel's Record.Method (TLS, TCP); nil for HTTP
	synth       []byte // the CONNECT head a transparent tunnel is decided by

	// The upstream side of the current exchange.
	upKey      pool.Key // address (and TLS name) of the attached upstream
	upAttached bool     // an upstream connection is attached (Driver.Connect completed)
	upPending  bool     // Driver.Connect is dialing
	upReused   bool
	upGotBytes bool // any response byte received on this connection for this request
	interim    int  // interim (1xx) responses received for this request
	phase      respPhase
	respP      parser.ResponseParser
	respFrame  parser.Framing
	respRemain int64
	respChunks parser.ChunkedDecoder
	unframe    bool // relaying a chunked body to an HTTP/1.0 client as close-delimited
	clientSent bool // bytes of the final response were sent to the client
	closeAfter bool // close the client connection when the response ends
	active     bool // data moved since the timer was last armed
	streaming  bool // a body is in stream mode (Driver.StreamBody) until StreamDone
	streamResp bool // with streaming: the response body; else the request body

	out []byte // scratch for heads the session writes; reused

	// Max-Forwards to send upstream for OPTIONS and TRACE (session_final.go).
	fwdMaxForwards int64
	setMaxForwards bool
	date           []byte // the clock as an HTTP date, for Date fields
	dateSec        int64  // the second date was formatted for

	// Observation of the current request (Config.Observer).
	client    netip.AddrPort
	cache     *sessionCache    // the response cache's state; nil until the cache first takes part
	zip       *sessionCompress // compression of the response; nil until a response is first considered
	rec       Record
	recOpen   bool      // a request is being recorded
	dnsStart  time.Time // when the resolver was asked, zero on a hit
	connStart time.Time // when a dial started, zero for a pooled connection
}

// SetShard records which of the driver's event loops serves s: its Records
// carry it (Record.Shard), so that an observer can count each loop apart.
func (s *Session) SetShard(i int) { s.shard = i }

// Init prepares s to serve a new client connection through d.
// self lists the addresses sluice listens on (requests to them are refused).
//
// client is the client's address, for the access log.
func (s *Session) Init(cfg *Config, d Driver, self []netip.AddrPort, client netip.AddrPort) {
	s.client = client
	s.cfg = cfg
	s.d = d
	s.via = append(s.via[:0], cfg.Via...)
	s.self = self
	s.rp.Limits = cfg.Limits
	s.respP.Limits = cfg.Limits
	s.st = stIdle
	s.drain = false
	s.resetRequest()
	d.SetTimer(cfg.IdleTimeout)
}

// Closed reports whether the session has finished with its client: closed,
// or handed to the driver as a tunnel.
func (s *Session) Closed() bool { return s.st == stClosed || s.st == stTunnel }

// Tunneling reports whether the session handed its connections to the driver
// as a tunnel.
func (s *Session) Tunneling() bool { return s.st == stTunnel }

// Idle reports whether the session is between requests.
func (s *Session) Idle() bool { return s.st == stIdle }

// WaitingForBody reports whether the current request has body bytes still to
// come that the session is not reading now (it waits for DNS, a connection,
// or a stream): the driver may then hold the client back (park it).
func (s *Session) WaitingForBody() bool {
	switch s.st {
	case stAuth, stResolving, stConnecting, stExchange:
		return !s.reqDone && !s.tunnel
	}
	return false
}

// Drain asks the session to close its client connection after the response in
// progress (or at once when idle), as on SIGTERM.
func (s *Session) Drain() {
	s.drain = true
	if s.st == stIdle {
		s.closeClient()
	}
}

func (s *Session) resetRequest() {
	s.cacheEnd(cache.Failed)
	s.gen++
	s.rp.Reset()
	s.authority = nil
	s.addrs = nil
	s.addrIdx = 0
	s.haveHead = false
	s.tunnel = false
	s.rewritten = false
	s.upTLS = false
	s.decision = policy.Decision{}
	s.connAuth = false
	s.user = s.user[:0]
	s.extraHdr = s.extraHdr[:0]
	s.reqDone = false
	s.retried = false
	s.attempts = 0
	s.setMaxForwards = false
	s.peeked = false
	s.upGotBytes = false
	s.interim = 0
	s.clientSent = false
	s.closeAfter = false
	s.unframe = false
	if s.zip != nil {
		s.zip.loop = false
	}
	s.streaming = false
	s.phase = respHead
	s.parentWait = false
}

// ClientData offers the client's buffered bytes; it returns how many it
// consumed. The driver keeps the rest and offers them again (with any new
// bytes after them) on the next event: a session that is waiting consumes
// nothing, which keeps pipelined requests in the client's buffer.
func (s *Session) ClientData(b []byte) int {
	if s.streaming {
		return 0
	}
	switch s.st {
	case stIdle, stHead:
		return s.readHead(b)
	case stPeek:
		return s.peek(b)
	case stSniff:
		return s.sniff(b)
	case stExchange:
		if !s.reqDone {
			return s.sendBody(b)
		}
	}
	return 0
}

func (s *Session) readHead(b []byte) int {
	n, err := s.rp.Parse(b)
	if err != nil {
		s.closeAfter = true
		if s.cfg.Observer != nil {
			s.rec = Record{Start: s.d.Now(), Client: s.client, BytesIn: int64(len(b))}
			s.recOpen = true
		}
		s.fail(err)
		return len(b)
	}
	if n == 0 {
		if s.st == stIdle && len(b) > 0 {
			s.st = stHead
			s.d.SetTimer(s.cfg.HeadTimeout)
		}
		return 0
	}
	s.head = append(s.head[:0], b[:n]...)
	s.rp.Req.Rebase(s.head)
	s.haveHead = true
	d := s.cfg.Current()
	s.pol, s.rewriteHdr = d.Policy, d.RewriteHeader
	s.beginRecord(n)
	s.startRequest()
	return n
}

// startRequest routes a complete request head.
func (s *Session) startRequest() {
	req := &s.rp.Req
	s.reqFrame, s.reqRemain = req.BodyFraming()
	s.reqChunks.Reset()
	if s.reqFrame == parser.FramingNone {
		s.reqDone = true
	}
	if req.Method == parser.MethodCONNECT {
		// What follows the CONNECT head is tunnel data, not HTTP: after a
		// failure the connection cannot be read on, so it closes.
		s.closeAfter = true
		s.tunnel = true
	}
	if err := s.chooseTarget(req); err != nil {
		s.fail(err)
		return
	}
	if s.pol != nil {
		if !s.policyBeforeDNS() {
			return
		}
	} else if !s.checkUpgrade() {
		return
	}
	if !s.originate() {
		return
	}
	s.connAuth = s.requestConnAuth()
	if s.cacheStart() {
		return
	}
	s.lookup()
}

// lookup resolves the destination: from the cache at once, or parked until
// the resolver answers.
func (s *Session) lookup() {
	if s.maxForwards() {
		return
	}
	if s.tunnel && !s.peeked && s.connectHTTPPort(s.port) {
		s.startPeek()
		return
	}
	name := s.hostLower
	if v := s.decision.Via; v != nil {
		name = []byte(v.Host) // the parent proxy is what is dialed
	}
	if ans := s.d.Lookup(name); ans != nil {
		s.resolved(ans, nil)
		return
	}
	s.dnsStart = s.d.Now()
	s.st = stResolving
	s.d.SetTimer(0) // the resolver bounds the wait with its query timeout
	s.d.Resolve(string(name), s.gen)
}

// chooseTarget picks the destination (DESIGN.md, Destination selection): the
// rewrite header, else the absolute-form authority (RFC 9112 §3.2.2: it wins
// over Host), else the Host header. Default port 80.
func (s *Session) chooseTarget(req *parser.Request) error {
	if s.bound != nil {
		if err := s.boundTarget(req); err != nil {
			return err
		}
		s.rec.Host, s.rec.Port = s.hostLower, s.port
		return nil
	}
	var host []byte
	port := 0
	rewrite := s.rewriteValue(req)
	switch {
	case req.Method == parser.MethodCONNECT:
		// RFC 9110 §9.3.6: the authority-form target names the tunnel's
		// destination; the parser requires its port. Its port is checked
		// with the policy, after authentication (policyRules), or below
		// without one.
		host, port, s.authority = req.Bytes(req.Host), req.Port, req.Bytes(req.Authority)
	case rewrite != nil:
		h, p, ok := parser.SplitAuthority(rewrite)
		if !ok {
			return ErrBadDestination
		}
		host, port, s.authority = h, p, rewrite
	case req.Form == parser.FormAbsolute:
		// An https target goes out only where TLS origination covers it
		// (originate, after the policy).
		host, port, s.authority = req.Bytes(req.Host), req.Port, req.Bytes(req.Authority)
		if port == 0 && req.Scheme == parser.SchemeHTTPS {
			port = 443
		}
	case req.HostIndex >= 0:
		host, port = req.Bytes(req.HostHeaderHost), req.HostHeaderPort
		s.authority = req.Bytes(req.Headers[req.HostIndex].Value)
		if port == 0 && s.transparent {
			port = s.origPort() // the port the client connected to
		}
	case s.transparent && !s.isSelf(s.orig):
		// No Host (HTTP/1.0): where the client connected.
		s.synth = s.orig.Addr().Unmap().AppendTo(s.synth[:0])
		host, port = s.synth, int(s.orig.Port())
		s.authority = nil
	default:
		return ErrNoDestination
	}
	if len(host) == 0 {
		return ErrNoDestination
	}
	if port == 0 {
		port = 80
	}
	s.port = uint16(port)
	s.hostLower = ascii.AppendLower(s.hostLower[:0], host)
	s.rec.Host, s.rec.Port = s.hostLower, s.port
	if s.tunnel && s.pol == nil && !s.connectPortAllowed(s.port) && !s.connectHTTPPort(s.port) {
		return ErrConnectPort
	}
	return nil
}

// connectPortAllowed applies the CONNECT port policy: the Policy's, else
// Config.ConnectPortAllowed, else 443 only (Squid's SSL_ports).
func (s *Session) connectPortAllowed(port uint16) bool {
	if p := s.pol; p != nil {
		return p.ConnectPortAllowed(port)
	}
	if f := s.cfg.ConnectPortAllowed; f != nil {
		return f(port)
	}
	return port == 443
}

// rewriteValue returns the first value of the configured rewrite header, or nil.
func (s *Session) rewriteValue(req *parser.Request) []byte {
	if s.rewriteHdr == "" {
		return nil
	}
	v, ok := req.Header(s.rewriteHdr)
	if !ok {
		return nil
	}
	if v = firstValue(v); len(v) == 0 {
		return nil
	}
	return v
}

// Resolved delivers the result of Driver.Resolve.
func (s *Session) Resolved(gen uint32, ans *resolver.Answer, err error) {
	if s.st != stResolving || gen != s.gen {
		return
	}
	s.resolved(ans, err)
}

func (s *Session) resolved(ans *resolver.Answer, err error) {
	if !s.dnsStart.IsZero() {
		s.rec.DNS = s.d.Now().Sub(s.dnsStart)
		s.dnsStart = time.Time{}
	}
	if err == nil && ans != nil && ans.Err != nil {
		err = ans.Err
	}
	if err == nil && (ans == nil || len(ans.Addrs) == 0) {
		err = resolver.ErrNotFound
	}
	if err != nil {
		s.fail(err)
		return
	}
	s.addrs = ans.Addrs
	if p := s.pol; p != nil && s.decision.Via == nil {
		// The resolved-address guard (SSRF, DNS rebinding): only allowed
		// addresses are tried; none allowed is a 403 and no connection.
		// (A parent proxy's addresses are configuration, not the
		// request's: not guarded.)
		s.addrBuf = s.addrBuf[:0]
		var denied error
		r := s.policyRequest()
		for _, a := range ans.Addrs {
			if err := p.CheckAddrFor(s.client.Addr(), s.hostLower, a); err != nil {
				denied = err
				continue
			}
			// A rule denying an IP literal denies that address whatever
			// name resolves to it.
			if rule, no := p.AddrRuleDenies(&r, a); no {
				s.rec.Rule = rule
				denied = policy.ErrDestinationDenied
				continue
			}
			s.addrBuf = append(s.addrBuf, a)
		}
		if len(s.addrBuf) == 0 {
			s.fail(denied)
			return
		}
		s.addrs = s.addrBuf
	}
	s.pickAddr()
	// A tunnel gets a connection of its own, never one pooled from HTTP
	// exchanges (nor a pinned one).
	s.connect(s.tunnel)
}

// pickAddr chooses the first address to try (Driver.PickAddr): the
// pinned connection's, if the client has one there; else where the driver
// says. New connections spread over every address instead of piling on
// the first (issue 22).
func (s *Session) pickAddr() {
	s.addrIdx, s.addrTried = 0, 0
	if len(s.addrs) < 2 {
		return
	}
	if s.pinned && !s.tunnel {
		for i, a := range s.addrs {
			if a == s.pinKey.Addr.Addr() && s.dialPort() == s.pinKey.Addr.Port() {
				s.addrIdx = i
				return
			}
		}
	}
	name := ""
	if s.upTLS {
		name = s.tlsName
	}
	s.addrIdx = s.d.PickAddr(s.addrs, s.dialPort(), name, s.tunnel)
}

// happyFallback returns the IPv4 address to race beside the current one
// (Happy Eyeballs, RFC 8305): when that is IPv6 and the name has an IPv4
// address not yet tried. The one after the current address in turn is
// taken, so the spreading of pickAddr carries over.
func (s *Session) happyFallback() netip.AddrPort {
	s.raced = false
	cur := s.addrs[s.addrIdx]
	if !cur.Is6() || cur.Is4In6() {
		return netip.AddrPort{}
	}
	n := len(s.addrs)
	for k := 1; k < n; k++ {
		a := s.addrs[(s.addrIdx+k)%n]
		if ap := netip.AddrPortFrom(a, s.dialPort()); (a.Is4() || a.Is4In6()) && !s.isSelf(ap) {
			s.raced = true
			return ap
		}
	}
	return netip.AddrPort{}
}

// connect attaches an upstream connection to the current address.
//
// The attempts of one request are bounded in number (MaxConnectAttempts)
// and in total time (ConnectTotalTimeout): an answer with 40 unreachable
// addresses must not hold a client for 40 connect timeouts (Squid's
// forward_max_tries and forward_timeout).
func (s *Session) connect(fresh bool) {
	ap := netip.AddrPortFrom(s.addrs[s.addrIdx], s.dialPort())
	if s.isSelf(ap) {
		s.fail(ErrLoop)
		return
	}
	now := s.d.Now()
	if s.attempts == 0 {
		s.connBegin = now
	}
	if s.attempts >= s.cfg.MaxConnectAttempts {
		s.fail(ErrConnectAttempts)
		return
	}
	left := s.cfg.ConnectTotalTimeout - now.Sub(s.connBegin)
	if left <= 0 {
		s.fail(ErrConnectBudget)
		return
	}
	s.attempts++
	s.st = stConnecting
	s.d.SetTimer(left) // each dial has its own ConnectTimeout besides
	key := pool.Key{Addr: ap}
	if s.upTLS {
		key.ServerName = s.tlsName
	}
	fallback := s.happyFallback()
	host := s.hostLower
	if s.decision.Via != nil {
		host = nil // a parent proxy: not checked at dial time either
	}
	ready, err := s.d.Connect(key, fallback, host, fresh, s.gen)
	if err != nil {
		s.fail(err)
		return
	}
	s.rec.Upstream = ap
	s.upKey = key
	if s.pinned && (fresh || key != s.pinKey) {
		s.pinned = false // Connect closed the pinned connection
	}
	if ready {
		s.connected(true)
		return
	}
	if s.connStart.IsZero() {
		s.connStart = s.d.Now()
	}
	s.upPending = true
}

func (s *Session) isSelf(ap netip.AddrPort) bool {
	a := ap.Addr().Unmap()
	for _, self := range s.self {
		if self.Port() != ap.Port() {
			continue
		}
		sa := self.Addr().Unmap()
		if sa == a || (sa.IsUnspecified() && a.IsLoopback()) {
			return true
		}
	}
	return false
}

// Connected delivers a successful dial started by Driver.Connect.
func (s *Session) Connected(gen uint32) {
	if s.st != stConnecting || gen != s.gen {
		return
	}
	s.upPending = false
	s.connected(false)
}

// ConnectFailed delivers a failed dial started by Driver.Connect; the next
// known address is tried, if any.
func (s *Session) ConnectFailed(gen uint32, err error) {
	if s.st != stConnecting || gen != s.gen {
		return
	}
	s.upPending = false
	if v := s.decision.Via; v != nil {
		err = parentError(v, err)
	}
	if s.raced {
		s.addrTried++ // the IPv4 address raced beside it failed too
	}
	if s.addrTried++; s.addrTried < len(s.addrs) {
		s.addrIdx = (s.addrIdx + 1) % len(s.addrs) // the others in turn
		s.connect(true)
		return
	}
	s.fail(err)
}

// connected sends the request head on the newly attached upstream, or for a
// CONNECT hands both connections to the driver as a tunnel.
func (s *Session) connected(reused bool) {
	s.rec.Reused = reused
	if ap := s.d.UpstreamAddr(); ap.IsValid() && ap != s.upKey.Addr {
		// The IPv4 address raced beside the IPv6 one won.
		s.upKey.Addr, s.rec.Upstream = ap, ap
	}
	if !s.connStart.IsZero() {
		s.rec.Connect = s.d.Now().Sub(s.connStart)
		s.connStart = time.Time{}
	}
	if s.tunnel && s.decision.Via != nil {
		s.parentConnect() // the tunnel starts once the parent has answered
		return
	}
	if s.tunnel {
		s.rec.Tunnel = true
		s.st = stTunnel
		s.d.SetTimer(0)
		if s.peeked {
			s.d.Tunnel(nil) // answered 200 before the peek
			return
		}
		s.rec.Status = 200
		s.rec.BytesOut += int64(len(connectEstablished))
		s.d.Tunnel(connectEstablished)
		return
	}
	s.upAttached = true
	s.upReused = reused
	s.upGotBytes = false
	s.phase = respHead
	s.respP.Reset()
	s.st = stExchange
	s.out = parser.AppendRequestHead(s.out[:0], &s.rp.Req, &parser.ForwardRequest{
		Authority:          s.authority,
		Via:                s.via,
		Upgrade:            s.rp.Req.ConnUpgrade,
		MaxForwards:        s.fwdMaxForwards,
		SetMaxForwards:     s.setMaxForwards,
		AbsoluteForm:       s.decision.Via != nil,
		ProxyAuthorization: s.parentAuth(),
	})
	s.out = s.cacheConditional(s.out)
	s.d.WriteUpstream(s.out)
	s.d.SetTimer(s.cfg.ResponseTimeout)
}

// sendBody forwards request body bytes from b; it returns how many it used.
func (s *Session) sendBody(b []byte) int {
	switch s.reqFrame {
	case parser.FramingLength:
		k := len(b)
		if int64(k) > s.reqRemain {
			k = int(s.reqRemain)
		}
		if k > 0 {
			s.d.WriteUpstream(b[:k])
			s.active = true
			s.rec.BytesIn += int64(k)
		}
		s.reqRemain -= int64(k)
		if s.reqRemain == 0 {
			s.reqDone = true
		} else {
			s.maybeStream(false)
		}
		return k
	case parser.FramingChunked:
		used := 0
		for used < len(b) && !s.reqDone {
			n, _, done, err := s.reqChunks.Decode(b[used:])
			if err != nil {
				s.closeAfter = true
				s.fail(err)
				return len(b)
			}
			if n == 0 {
				break
			}
			used += n
			s.reqDone = done
		}
		if used > 0 {
			s.d.WriteUpstream(b[:used])
			s.active = true
			s.rec.BytesIn += int64(used)
		}
		if !s.reqDone {
			s.maybeStream(false)
		}
		return used
	}
	s.reqDone = true
	return 0
}

// maybeStream hands the rest of a body to stream mode when it is large (more
// than StreamThreshold left, or of unknown length) and its receiver falls
// behind (DESIGN.md, Loop mode and stream mode), or, for a response with more
// than SpliceAbove left, as soon as the client has drained what was relayed.
// It reports whether it did.
func (s *Session) maybeStream(resp bool) bool {
	// Passed by value: a pointer to a local would escape to the heap
	// through the Driver interface, one allocation per call.
	spec := StreamSpec{ToClient: resp}
	if resp {
		if !s.reqDone || s.compressing() {
			return false
		}
		spec.Framing, spec.Remain, spec.Chunks, spec.Unframe = s.respFrame, s.respRemain, s.respChunks, s.unframe
	} else {
		if s.phase != respHead {
			return false
		}
		spec.Framing, spec.Remain, spec.Chunks = s.reqFrame, s.reqRemain, s.reqChunks
	}
	if spec.Framing == parser.FramingLength && spec.Remain <= int64(s.cfg.StreamThreshold) {
		return false
	}
	eager := resp && spec.Framing == parser.FramingLength && s.cfg.SpliceAbove >= 0 &&
		spec.Remain > int64(s.cfg.SpliceAbove)
	if !(eager && s.d.Drained()) && !s.d.Behind(resp) {
		return false
	}
	if resp {
		s.cacheStop() // the body bypasses the session
	}
	s.streaming = true
	s.streamResp = resp
	s.d.SetTimer(0) // the stream applies the idle timeout itself
	s.d.StreamBody(spec)
	return true
}

// StreamDone reports that the body handed to stream mode was moved and both
// connections are back. clean is false when the upstream sent bytes past the
// response, which makes it unusable.
//
// moved is how many body bytes the stream delivered.
func (s *Session) StreamDone(clean bool, moved int64) {
	if !s.streaming {
		return
	}
	s.streaming = false
	if s.streamResp {
		s.rec.BytesOut += moved
	} else {
		s.rec.BytesIn += moved
	}
	if !s.streamResp {
		s.reqDone = true
		s.d.SetTimer(s.cfg.ResponseTimeout)
		return
	}
	s.responseDone(clean)
}

// Client returns the client's address, as given to Init.
func (s *Session) Client() netip.AddrPort { return s.client }

// Policy returns the policy deciding the current request (nil: none). A
// driver checks what it dials against it (Policy.CheckAddrFor).
func (s *Session) Policy() *policy.Policy { return s.pol }

// Streaming reports whether a body is in stream mode (Driver.StreamBody)
// and StreamDone has not come yet.
func (s *Session) Streaming() bool { return s.streaming }
