package resolver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// EDNS(0) UDP payload size advertised in queries: the DNS Flag Day 2020
// value, which avoids IP fragmentation; bigger answers come back truncated
// and are fetched again over TCP (RFC 7766 §5).
const ednsSize = 1232

// udpReadSize is the read buffer for UDP replies: larger than ednsSize so a
// server that ignores the advertised size is still understood.
const udpReadSize = 4096

// client is the DNS stub resolver: /etc/hosts, then the search list over
// the nameservers, A and AAAA in parallel. Its configuration is set once by
// New; next is the only mutable state (atomic). Every method is safe for
// concurrent use by the resolver's workers.
type client struct {
	conf   *resolvConf // servers always non-empty
	family Family
	hosts  *hostsFile // nil when disabled

	next atomic.Uint32 // rotate: index of the server the next query starts at
}

// dnsError is a failed lookup: one of the sentinel errors plus detail.
// Immutable.
type dnsError struct {
	kind   error // ErrNotFound, ErrTimeout, ErrServerFailure or ErrStopped
	detail string
}

func (e *dnsError) Error() string { return e.kind.Error() + ": " + e.detail }
func (e *dnsError) Unwrap() error { return e.kind }

// lookup resolves host (lower case, no port) for the client's family. It
// returns the addresses in the order to try, and the smallest TTL of the
// records used (0 for a hosts-file answer: the caller clamps it to MinTTL).
// It gives up when ctx is done: ErrTimeout if its deadline passed,
// ErrStopped if it was cancelled.
func (c *client) lookup(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	if c.hosts != nil {
		if addrs := c.hosts.lookup(host); len(addrs) > 0 {
			v4, v6 := splitFamilies(addrs)
			if sel := selectAddrs(c.family, v4, v6); len(sel) > 0 {
				return sel, 0, nil
			}
			// Listed only with the other family: ask DNS, as glibc's
			// "hosts: files dns" does.
		}
	}
	var notFound, other error
	for _, name := range c.conf.nameList(host) {
		addrs, ttl, err := c.lookupName(ctx, name)
		if err == nil {
			return addrs, ttl, nil
		}
		if ctx.Err() != nil {
			return nil, 0, ctxError(ctx, host)
		}
		// Keep searching after a failure, as glibc and Go do, but report
		// the first failure that is not "no such name": it says more.
		if errors.Is(err, ErrNotFound) {
			if notFound == nil {
				notFound = err
			}
		} else if other == nil {
			other = err
		}
	}
	err := other
	if err == nil {
		err = notFound
	}
	var de *dnsError
	if errors.As(err, &de) {
		return nil, 0, &dnsError{kind: de.kind, detail: host + " (" + de.detail + ")"}
	}
	return nil, 0, &dnsError{kind: ErrNotFound, detail: host}
}

// lookupName queries the absolute name for the record types of the family,
// A and AAAA in parallel, and combines the answers.
func (c *client) lookupName(ctx context.Context, name string) ([]netip.Addr, time.Duration, error) {
	var (
		v4, v6     []netip.Addr
		ttl4, ttl6 uint32
		err4, err6 error
	)
	switch {
	case c.family.wantV4() && c.family.wantV6():
		done := make(chan struct{})
		go func() {
			defer close(done)
			v6, ttl6, err6 = c.query(ctx, name, dns.TypeAAAA)
		}()
		v4, ttl4, err4 = c.query(ctx, name, dns.TypeA)
		<-done
	case c.family.wantV4():
		v4, ttl4, err4 = c.query(ctx, name, dns.TypeA)
	default:
		v6, ttl6, err6 = c.query(ctx, name, dns.TypeAAAA)
	}
	use4, use6 := c.family.choose(len(v4) > 0, len(v6) > 0)
	if !use4 && !use6 {
		// Report the error that is not "no such name" first: when one type
		// times out or fails and the other has no records, the failure is
		// the real cause (the host may well have addresses of that type).
		for _, err := range []error{err6, err4} {
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, 0, err
			}
		}
		if err6 != nil {
			return nil, 0, err6
		}
		if err4 != nil {
			return nil, 0, err4
		}
		return nil, 0, &dnsError{kind: ErrNotFound, detail: name + ": no addresses"}
	}
	ttl := uint32(math.MaxUint32)
	if use4 {
		ttl = min(ttl, ttl4)
	}
	if use6 {
		ttl = min(ttl, ttl6)
	}
	return selectAddrs(c.family, v4, v6), time.Duration(ttl) * time.Second, nil
}

// query asks the nameservers for one record type of one absolute name:
// attempts rounds over the server list (starting at the next server when
// rotate is set), moving to the next server on a timeout, a network error or
// an error code other than NXDOMAIN. NXDOMAIN and NODATA are answers and end
// the query.
func (c *client) query(ctx context.Context, name string, qtype uint16) ([]netip.Addr, uint32, error) {
	servers := c.conf.servers
	start := 0
	if c.conf.rotate {
		start = int((c.next.Add(1) - 1) % uint32(len(servers)))
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(ednsSize, false)
	var lastErr error
	for attempt := 0; attempt < c.conf.attempts; attempt++ {
		for i := range servers {
			server := servers[(start+i)%len(servers)]
			m.Id = dns.Id()
			resp, err := c.exchange(ctx, m, server)
			if err != nil {
				if ctx.Err() != nil {
					return nil, 0, ctxError(ctx, name)
				}
				kind := ErrServerFailure
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					kind = ErrTimeout
				}
				lastErr = &dnsError{kind: kind, detail: fmt.Sprintf("%s %s: %s: %v", name, dns.TypeToString[qtype], server, err)}
				continue
			}
			switch resp.Rcode {
			case dns.RcodeSuccess:
				return answerAddrs(resp, name, qtype)
			case dns.RcodeNameError:
				return nil, 0, &dnsError{kind: ErrNotFound, detail: name + " " + dns.TypeToString[qtype] + ": NXDOMAIN"}
			default:
				lastErr = &dnsError{kind: ErrServerFailure, detail: fmt.Sprintf("%s %s: %s from %s",
					name, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode], server)}
			}
		}
	}
	return nil, 0, lastErr
}

// exchange sends m to server over UDP and, when the reply is truncated,
// again over TCP (RFC 7766 §5).
func (c *client) exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	resp, err := c.exchangeOver(ctx, "udp", m, server)
	if err == nil && resp.Truncated {
		resp, err = c.exchangeOver(ctx, "tcp", m, server)
	}
	return resp, err
}

// aLongTimeAgo is a deadline in the past: setting it interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// exchangeOver does one query/reply over a new connection, within the
// per-attempt timeout and ctx. Unlike dns.Client it also stops at once when
// ctx is cancelled (Stop), not only at ctx's deadline. Over UDP, replies
// whose ID or question do not match are ignored (they may be late replies
// to an earlier attempt, or spoofed).
func (c *client) exchangeOver(ctx context.Context, network string, m *dns.Msg, server string) (*dns.Msg, error) {
	deadline := time.Now().Add(c.conf.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, network, server)
	if err != nil {
		return nil, err
	}
	co := &dns.Conn{Conn: conn, UDPSize: udpReadSize}
	defer co.Close()
	co.SetDeadline(deadline)
	// Registered after SetDeadline, so a cancellation always wins.
	stop := context.AfterFunc(ctx, func() { co.SetDeadline(aLongTimeAgo) })
	defer stop()
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	for {
		resp, err := co.ReadMsg()
		if err != nil {
			return nil, err
		}
		if resp.Id == m.Id && sameQuestion(resp, m) {
			return resp, nil
		}
		if network != "udp" {
			return nil, errors.New("reply does not match the query")
		}
	}
}

func sameQuestion(resp, m *dns.Msg) bool {
	if len(resp.Question) != 1 {
		return false
	}
	q, want := resp.Question[0], m.Question[0]
	return q.Qtype == want.Qtype && q.Qclass == want.Qclass && strings.EqualFold(q.Name, want.Name)
}

// maxCNAMEs bounds the CNAME chain followed inside one reply.
const maxCNAMEs = 16

// answerAddrs extracts the addresses of type qtype for qname from a NOERROR
// reply, following the CNAME chain the reply carries, and returns the
// smallest TTL among the records used. No address is NODATA: ErrNotFound.
func answerAddrs(resp *dns.Msg, qname string, qtype uint16) ([]netip.Addr, uint32, error) {
	target := qname
	ttl := uint32(math.MaxUint32)
	for hops := 0; hops < maxCNAMEs; hops++ {
		next := ""
		for _, rr := range resp.Answer {
			h := rr.Header()
			if cn, ok := rr.(*dns.CNAME); ok && h.Class == dns.ClassINET && strings.EqualFold(h.Name, target) {
				next = cn.Target
				ttl = min(ttl, h.Ttl)
				break
			}
		}
		if next == "" {
			break
		}
		target = next
	}
	var addrs []netip.Addr
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != qtype || h.Class != dns.ClassINET || !strings.EqualFold(h.Name, target) {
			continue
		}
		var a netip.Addr
		var ok bool
		switch v := rr.(type) {
		case *dns.A:
			a, ok = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			a, ok = netip.AddrFromSlice(v.AAAA.To16())
			a = a.Unmap()
		}
		if !ok || containsAddr(addrs, a) {
			continue
		}
		addrs = append(addrs, a)
		ttl = min(ttl, h.Ttl)
	}
	if len(addrs) == 0 {
		return nil, 0, &dnsError{kind: ErrNotFound, detail: qname + " " + dns.TypeToString[qtype] + ": no records"}
	}
	return addrs, ttl, nil
}

func containsAddr(addrs []netip.Addr, a netip.Addr) bool {
	for _, x := range addrs {
		if x == a {
			return true
		}
	}
	return false
}

// ctxError is the error for a lookup that ctx ended: ErrTimeout when its
// deadline (Config.QueryTimeout) passed, ErrStopped when it was cancelled.
func ctxError(ctx context.Context, name string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &dnsError{kind: ErrTimeout, detail: name + ": no answer within the query timeout"}
	}
	return &dnsError{kind: ErrStopped, detail: name}
}
