// Package dnstest runs a real DNS server in-process for tests: a
// github.com/miekg/dns server on a loopback port chosen by the kernel,
// serving UDP and TCP on the same port, with answers and misbehaviour set per
// name at run time (delay, hold until released, drop, any rcode such as
// SERVFAIL or NXDOMAIN, truncation over UDP to force TCP), and query counters
// per name, record type and transport.
//
// It is used by the resolver's tests and by any package whose tests need
// names to resolve (point resolver.Config.Nameservers at Server.Addr).
//
//	s := dnstest.New(t)
//	s.Set("example.test", 60, "192.0.2.1", "2001:db8::1")
//	s.SetRcode("broken.test", dns.RcodeServerFailure)
//
// Names are case-insensitive and may be given with or without the final
// dot. A name that was never Set answers NXDOMAIN.
package dnstest

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// waitTimeout bounds WaitQueries, so a broken test fails instead of hanging.
const waitTimeout = 10 * time.Second

// Server is a DNS server for tests. Its methods are safe for concurrent
// use; the handler runs on the server's goroutines. All state is guarded by
// mu.
type Server struct {
	t    testing.TB
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	done chan struct{} // closed by Close: held and delayed queries give up

	closeOnce sync.Once
	served    sync.WaitGroup // the two ActivateAndServe goroutines

	mu      sync.Mutex
	names   map[string]*name // by canonical name (lower case, final dot)
	counts  map[countKey]int
	changed chan struct{} // closed and replaced on every query (WaitQueries)
}

// name is what the server knows and does for one name. Guarded by the
// Server's mu.
type name struct {
	exists   bool // Set: answers NOERROR (NODATA without records)
	ttl      uint32
	a, aaaa  []netip.Addr
	cname    string // canonical target; takes precedence over records
	delay    time.Duration
	hold     chan struct{} // non-nil: queries wait until it is closed
	drop     bool
	rcode    int            // for every record type, unless in rcodes
	rcodes   map[uint16]int // per record type
	truncate bool
}

// countKey identifies a query counter.
type countKey struct {
	name  string
	qtype uint16
	tcp   bool
}

// New starts a server on 127.0.0.1, UDP and TCP on the same kernel-chosen
// port, and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:       t,
		done:    make(chan struct{}),
		names:   make(map[string]*name),
		counts:  make(map[countKey]int),
		changed: make(chan struct{}),
	}
	var pc net.PacketConn
	var l net.Listener
	for i := 0; ; i++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			break
		}
		pc.Close()
		if i == 20 {
			t.Fatalf("dnstest: no port free for both UDP and TCP: %v", err)
		}
	}
	s.addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: l, Handler: s}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		s.served.Add(1)
		go func() {
			defer s.served.Done()
			srv.ActivateAndServe()
		}()
		<-started
	}
	t.Cleanup(s.Close)
	return s
}

// Addr returns the server's address, "127.0.0.1:port", for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Close stops the server, releasing held and delayed queries without an
// answer. It is called at the end of the test; calling it earlier is fine.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.udp.Shutdown()
		s.tcp.Shutdown()
		s.served.Wait()
	})
}

func canonical(n string) string { return dns.CanonicalName(n) }

// nameLocked returns the entry for n, creating it. The caller holds mu.
func (s *Server) nameLocked(n string) *name {
	n = canonical(n)
	e := s.names[n]
	if e == nil {
		e = &name{}
		s.names[n] = e
	}
	return e
}

// Set makes name exist with the given addresses (IPv4 ones answer A
// queries, IPv6 ones AAAA) and TTL, replacing its records and any CNAME;
// with no addresses it answers NODATA. Misbehaviour set for name stays.
func (s *Server) Set(name string, ttl uint32, addrs ...string) {
	var a, aaaa []netip.Addr
	for _, x := range addrs {
		ip, err := netip.ParseAddr(x)
		if err != nil {
			s.t.Fatalf("dnstest: Set %s: %v", name, err)
		}
		if ip.Is4() {
			a = append(a, ip)
		} else {
			aaaa = append(aaaa, ip)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.nameLocked(name)
	e.exists, e.ttl, e.a, e.aaaa, e.cname = true, ttl, a, aaaa, ""
}

// SetCNAME makes name an alias of target; the server follows the chain in
// its answers, as a recursive resolver does.
func (s *Server) SetCNAME(name, target string, ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.nameLocked(name)
	e.exists, e.ttl, e.a, e.aaaa, e.cname = true, ttl, nil, nil, canonical(target)
}

// Remove deletes name's records: it answers NXDOMAIN again. Misbehaviour
// set for name stays.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.nameLocked(name)
	e.exists, e.a, e.aaaa, e.cname = false, nil, nil, ""
}

// SetDelay delays every answer for name by d (0: no delay).
func (s *Server) SetDelay(name string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nameLocked(name).delay = d
}

// Hold makes queries for name wait, unanswered, until Release(name). Unlike
// SetDelay it lets a test decide exactly when the answer goes out. The
// answer sent is the one configured at release time.
func (s *Server) Hold(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.nameLocked(name); e.hold == nil {
		e.hold = make(chan struct{})
	}
}

// Release answers the queries held for name and stops holding new ones.
func (s *Server) Release(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.nameLocked(name); e.hold != nil {
		close(e.hold)
		e.hold = nil
	}
}

// SetDrop makes the server ignore queries for name (the client times out).
func (s *Server) SetDrop(name string, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nameLocked(name).drop = drop
}

// SetRcode makes the server answer name with rcode (dns.RcodeServerFailure,
// dns.RcodeNameError, dns.RcodeRefused...) and no records, for the given
// record types or, with none given, for every type; 0 restores normal
// answers.
func (s *Server) SetRcode(name string, rcode int, qtypes ...uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.nameLocked(name)
	if len(qtypes) == 0 {
		e.rcode, e.rcodes = rcode, nil
		return
	}
	if e.rcodes == nil {
		e.rcodes = make(map[uint16]int)
	}
	for _, t := range qtypes {
		e.rcodes[t] = rcode
	}
}

// SetTruncate makes UDP answers for name empty with the TC bit set, so the
// client must ask again over TCP, where the full answer is served.
func (s *Server) SetTruncate(name string, truncate bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nameLocked(name).truncate = truncate
}

// Queries returns how many queries for name and qtype (dns.TypeA,
// dns.TypeAAAA...) arrived, over UDP and TCP.
func (s *Server) Queries(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := canonical(name)
	return s.counts[countKey{n, qtype, false}] + s.counts[countKey{n, qtype, true}]
}

// TCPQueries returns how many queries for name and qtype arrived over TCP.
func (s *Server) TCPQueries(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[countKey{canonical(name), qtype, true}]
}

// TotalQueries returns how many queries arrived, for any name.
func (s *Server) TotalQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// WaitQueries waits until at least n queries for name and qtype have
// arrived (counted on arrival, before any hold or delay), and fails the test
// after 10 s. Call it from the test's goroutine.
func (s *Server) WaitQueries(name string, qtype uint16, n int) {
	s.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		nm := canonical(name)
		got := s.counts[countKey{nm, qtype, false}] + s.counts[countKey{nm, qtype, true}]
		changed := s.changed
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			s.t.Fatalf("dnstest: %d queries for %s %s after %v, want %d", got, name, dns.TypeToString[qtype], waitTimeout, n)
		}
	}
}

// ServeDNS answers one query. It implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	qname := canonical(q.Name)
	_, tcp := w.RemoteAddr().(*net.TCPAddr)

	s.mu.Lock()
	s.counts[countKey{qname, q.Qtype, tcp}]++
	close(s.changed)
	s.changed = make(chan struct{})
	var hold chan struct{}
	var delay time.Duration
	if e := s.names[qname]; e != nil {
		hold, delay = e.hold, e.delay
	}
	s.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-s.done:
			return
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return
		}
	}
	m, ok := s.answer(req, qname, q.Qtype, tcp)
	if ok {
		w.WriteMsg(m)
	}
}

// answer builds the reply, or reports that the query is dropped.
func (s *Server) answer(req *dns.Msg, qname string, qtype uint16, tcp bool) (*dns.Msg, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	e := s.names[qname]
	if e == nil {
		m.Rcode = dns.RcodeNameError
		return m, true
	}
	if e.drop {
		return nil, false
	}
	rcode, ok := e.rcodes[qtype]
	if !ok {
		rcode = e.rcode
	}
	if rcode != 0 {
		m.Rcode = rcode
		return m, true
	}
	if e.truncate && !tcp {
		m.Truncated = true
		return m, true
	}
	cur := qname
	for hops := 0; e != nil && e.exists && e.cname != "" && hops < 8; hops++ {
		m.Answer = append(m.Answer, &dns.CNAME{
			Hdr:    dns.RR_Header{Name: cur, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: e.ttl},
			Target: e.cname,
		})
		cur = e.cname
		e = s.names[cur]
	}
	if e == nil || !e.exists {
		m.Rcode = dns.RcodeNameError
		return m, true
	}
	switch qtype {
	case dns.TypeA:
		for _, a := range e.a {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: cur, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: e.ttl},
				A:   a.AsSlice(),
			})
		}
	case dns.TypeAAAA:
		for _, a := range e.aaaa {
			m.Answer = append(m.Answer, &dns.AAAA{
				Hdr:  dns.RR_Header{Name: cur, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: e.ttl},
				AAAA: a.AsSlice(),
			})
		}
	}
	return m, true
}
