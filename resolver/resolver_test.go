package resolver

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

func TestResolveThenLookup(t *testing.T) {
	s := dnstest.New(t)
	s.Set("a.test", 60, "192.0.2.1", "2001:db8::1")
	r, clk := newTestResolver(t, s, nil)

	if a := r.Lookup([]byte("a.test")); a != nil {
		t.Fatalf("Lookup before Resolve = %+v, want nil", a)
	}
	a := mustResolve(t, r, "a.test")
	checkAddrs(t, "auto", a.Addrs, "2001:db8::1")
	if a.TTL != 60*time.Second || !a.Expires.Equal(clk.Now().Add(60*time.Second)) {
		t.Errorf("TTL %v Expires %v, want 60s from %v", a.TTL, a.Expires, clk.Now())
	}
	if got := r.Lookup([]byte("a.test")); got != a {
		t.Fatalf("Lookup = %p, want the published answer %p", got, a)
	}
	// A known answer is given synchronously, with no query.
	b, err := resolveSync(t, r, "A.Test")
	if err != nil || b != a {
		t.Fatalf("second Resolve = %p, %v; want %p", b, err, a)
	}
	if q4, q6 := s.Queries("a.test", dns.TypeA), s.Queries("a.test", dns.TypeAAAA); q4 != 1 || q6 != 1 {
		t.Errorf("queries A=%d AAAA=%d, want 1 each", q4, q6)
	}
	st := r.Stats()
	if st.QueryAttempt != 1 || st.QuerySuccess != 1 || st.HostAdded != 1 || st.NumHosts != 1 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLookupNilWhilePending(t *testing.T) {
	s := dnstest.New(t)
	s.Set("p.test", 60, "192.0.2.1")
	s.Hold("p.test")
	r, _ := newTestResolver(t, s, func(c *Config) { c.Family = FamilyV4Only })
	ch := resolveAsync(r, "p.test")
	s.WaitQueries("p.test", dns.TypeA, 1)
	if a := r.Lookup([]byte("p.test")); a != nil {
		t.Fatalf("Lookup while pending = %+v, want nil", a)
	}
	s.Release("p.test")
	if _, err := wait(t, ch); err != nil {
		t.Fatal(err)
	}
	if r.Lookup([]byte("p.test")) == nil {
		t.Fatal("Lookup after resolution = nil")
	}
}

// TestSingleflight: 1,000 concurrent Resolve calls for one slow host make
// one query per record type, and every callback is called exactly once
// with the same answer.
func TestSingleflight(t *testing.T) {
	const n = 1000
	s := dnstest.New(t)
	s.Set("slow.test", 60, "192.0.2.9", "2001:db8::9")
	s.Hold("slow.test")
	r, _ := newTestResolver(t, s, nil)

	var calls [n]atomic.Int32
	results := make(chan result, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			r.Resolve("slow.test", func(a *Answer, err error) {
				calls[i].Add(1)
				results <- result{a, err}
			})
		}()
	}
	start.Done()
	done.Wait() // every Resolve has returned: all are waiting
	s.WaitQueries("slow.test", dns.TypeA, 1)
	s.WaitQueries("slow.test", dns.TypeAAAA, 1)
	if p := r.Stats().Pending; p != n {
		t.Fatalf("pending %d, want %d", p, n)
	}
	s.Release("slow.test")
	var first *Answer
	for range n {
		a, err := wait(t, results)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = a
		} else if a != first {
			t.Fatal("waiters got different answers")
		}
	}
	checkAddrs(t, "answer", first.Addrs, "2001:db8::9")
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("callback %d called %d times", i, c)
		}
	}
	if q4, q6 := s.Queries("slow.test", dns.TypeA), s.Queries("slow.test", dns.TypeAAAA); q4 != 1 || q6 != 1 {
		t.Fatalf("queries A=%d AAAA=%d, want 1 each", q4, q6)
	}
	if st := r.Stats(); st.QueryAttempt != 1 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFamily(t *testing.T) {
	type query struct{ a, aaaa int }
	tests := []struct {
		name    string
		family  Family
		host    string
		want    []string
		wantErr error
		queries query
	}{
		{"auto dual", FamilyAuto, "dual.test", []string{"2001:db8::1", "2001:db8::2"}, nil, query{1, 1}},
		{"auto v4 only host", FamilyAuto, "four.test", []string{"192.0.2.1"}, nil, query{1, 1}},
		{"v4_only", FamilyV4Only, "dual.test", []string{"192.0.2.1", "192.0.2.2"}, nil, query{1, 0}},
		{"v4_only v6 host", FamilyV4Only, "six.test", nil, ErrNotFound, query{1, 0}},
		{"v6_only", FamilyV6Only, "dual.test", []string{"2001:db8::1", "2001:db8::2"}, nil, query{0, 1}},
		{"v4_preferred dual", FamilyV4Preferred, "dual.test", []string{"192.0.2.1", "192.0.2.2"}, nil, query{1, 1}},
		{"v4_preferred v6 host", FamilyV4Preferred, "six.test", []string{"2001:db8::6"}, nil, query{1, 1}},
		{"all interleaved", FamilyAll, "dual.test", []string{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2"}, nil, query{1, 1}},
		{"all v4 host", FamilyAll, "four.test", []string{"192.0.2.1"}, nil, query{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.New(t)
			s.Set("dual.test", 60, "192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2")
			s.Set("four.test", 60, "192.0.2.1")
			s.Set("six.test", 60, "2001:db8::6")
			r, _ := newTestResolver(t, s, func(c *Config) { c.Family = tt.family })
			a, err := resolveWait(t, r, tt.host)
			if tt.wantErr != nil {
				checkErr(t, tt.host, err, tt.wantErr)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				checkAddrs(t, tt.host, a.Addrs, tt.want...)
			}
			got := query{s.Queries(tt.host, dns.TypeA), s.Queries(tt.host, dns.TypeAAAA)}
			if got != tt.queries {
				t.Errorf("queries %+v, want %+v", got, tt.queries)
			}
		})
	}
}

// TestAutoFallsBack: with AUTO, an AAAA failure or NODATA does not hide
// good A records, but when both fail the error that is not "no such name"
// is reported.
func TestAutoFallsBack(t *testing.T) {
	s := dnstest.New(t)
	s.Set("v4.test", 60, "192.0.2.4")
	s.SetRcode("v4.test", dns.RcodeServerFailure, dns.TypeAAAA)
	s.SetCNAME("cn.test", "v4only.test", 60)
	s.Set("v4only.test", 60, "192.0.2.5")
	s.Set("mixed.test", 60)
	s.SetRcode("mixed.test", dns.RcodeServerFailure, dns.TypeAAAA)
	r, _ := newTestResolver(t, s, nil)
	checkAddrs(t, "v4.test", mustResolve(t, r, "v4.test").Addrs, "192.0.2.4")
	checkAddrs(t, "cn.test", mustResolve(t, r, "cn.test").Addrs, "192.0.2.5")
	_, err := resolveWait(t, r, "mixed.test")
	checkErr(t, "mixed.test", err, ErrServerFailure)
}

func TestTTL(t *testing.T) {
	s := dnstest.New(t)
	s.Set("short.test", 1, "192.0.2.1")
	s.Set("long.test", 86400, "192.0.2.2")
	s.SetCNAME("alias.test", "mid.test", 30)
	s.SetCNAME("mid.test", "target.test", 120)
	s.Set("target.test", 300, "192.0.2.3")
	r, _ := newTestResolver(t, s, func(c *Config) { c.Family = FamilyV4Only })
	for _, tt := range []struct {
		host string
		ttl  time.Duration
		addr string
	}{
		{"short.test", DefaultMinTTL, "192.0.2.1"},
		{"long.test", DefaultMaxTTL, "192.0.2.2"},
		{"alias.test", 30 * time.Second, "192.0.2.3"}, // smallest TTL of the chain
	} {
		a := mustResolve(t, r, tt.host)
		if a.TTL != tt.ttl {
			t.Errorf("%s: TTL %v, want %v", tt.host, a.TTL, tt.ttl)
		}
		checkAddrs(t, tt.host, a.Addrs, tt.addr)
	}
}

func TestErrors(t *testing.T) {
	s := dnstest.New(t)
	s.SetRcode("servfail.test", dns.RcodeServerFailure)
	s.SetRcode("refused.test", dns.RcodeRefused)
	s.SetRcode("nx.test", dns.RcodeNameError)
	s.Set("nodata.test", 60) // exists, no records
	s.Set("dropped.test", 60, "192.0.2.1")
	s.SetDrop("dropped.test", true)
	r, _ := newTestResolver(t, s, func(c *Config) { c.QueryTimeout = 300 * time.Millisecond })
	for _, tt := range []struct {
		host string
		want error
	}{
		{"servfail.test", ErrServerFailure},
		{"refused.test", ErrServerFailure},
		{"nx.test", ErrNotFound},
		{"never-set.test", ErrNotFound},
		{"nodata.test", ErrNotFound},
		{"dropped.test", ErrTimeout},
	} {
		a, err := resolveWait(t, r, tt.host)
		checkErr(t, tt.host, err, tt.want)
		if a == nil || a.Err != err {
			t.Errorf("%s: answer %+v, want the negatively cached answer", tt.host, a)
		}
		// Negatively cached: Lookup returns it, Resolve answers at once.
		if l := r.Lookup([]byte(tt.host)); l == nil || l.Err == nil {
			t.Errorf("%s: Lookup = %+v, want the cached error", tt.host, l)
		}
		_, err2 := resolveSync(t, r, tt.host)
		checkErr(t, tt.host+" again", err2, tt.want)
	}
	st := r.Stats()
	if st.QueryFailure != 6 || st.QueryTimeout != 1 || st.QueryAttempt != 6 {
		t.Errorf("stats %+v", st)
	}
}

// TestAttemptTimeout: a server that drops queries fails after resolv.conf's
// timeout x attempts, before QueryTimeout, with ErrTimeout.
func TestAttemptTimeout(t *testing.T) {
	s := dnstest.New(t)
	s.SetDrop("drop.test", true)
	conf := writeFile(t, "resolv.conf", "nameserver "+s.Addr()+"\noptions timeout:1 attempts:1\n")
	r, _ := newTestResolver(t, nil, func(c *Config) {
		c.ResolvConf = conf
		c.Family = FamilyV4Only
	})
	start := time.Now()
	_, err := resolveWait(t, r, "drop.test")
	checkErr(t, "drop.test", err, ErrTimeout)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v, want about 1s", d)
	}
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	s := dnstest.New(t)
	s.Set("big.test", 60, "192.0.2.1", "192.0.2.2")
	s.SetTruncate("big.test", true)
	r, _ := newTestResolver(t, s, func(c *Config) { c.Family = FamilyV4Only })
	a := mustResolve(t, r, "big.test")
	checkAddrs(t, "big.test", a.Addrs, "192.0.2.1", "192.0.2.2")
	if q, tcp := s.Queries("big.test", dns.TypeA), s.TCPQueries("big.test", dns.TypeA); q != 2 || tcp != 1 {
		t.Errorf("queries %d (tcp %d), want 2 (tcp 1)", q, tcp)
	}
}

func TestIPLiteralsSkipDNS(t *testing.T) {
	s := dnstest.New(t)
	r, _ := newTestResolver(t, s, nil)
	for _, tt := range []struct{ host, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"::ffff:127.0.0.1", "127.0.0.1"}, // unmapped, so the SSRF guard sees loopback
	} {
		a := r.Lookup([]byte(tt.host))
		if a == nil {
			t.Fatalf("Lookup(%q) = nil", tt.host)
		}
		checkAddrs(t, tt.host, a.Addrs, tt.want)
		b, err := resolveSync(t, r, tt.host)
		if err != nil {
			t.Fatal(err)
		}
		checkAddrs(t, tt.host, b.Addrs, tt.want)
	}
	if n := s.TotalQueries(); n != 0 {
		t.Errorf("%d DNS queries for literals", n)
	}
	if n := r.Stats().NumHosts; n != 0 {
		t.Errorf("%d hosts cached for literals", n)
	}
	// Names that look numeric but are not addresses go to DNS.
	if a := r.Lookup([]byte("1.2.3")); a != nil {
		t.Errorf("Lookup(1.2.3) = %+v, want nil", a)
	}
}

func TestInvalidHostName(t *testing.T) {
	s := dnstest.New(t)
	r, _ := newTestResolver(t, s, nil)
	for _, h := range []string{"", "bad name", "a..b", "-", "x/y", "a.b\x00"} {
		_, err := resolveSync(t, r, h)
		checkErr(t, h, err, ErrNotFound)
	}
	if s.TotalQueries() != 0 || r.Stats().NumHosts != 0 {
		t.Error("invalid names reached DNS or the cache")
	}
}

func TestPendingOverflow(t *testing.T) {
	s := dnstest.New(t)
	s.Set("slow.test", 60, "192.0.2.1")
	s.Hold("slow.test")
	s.Set("other.test", 60, "192.0.2.2")
	r, _ := newTestResolver(t, s, func(c *Config) {
		c.MaxPending = 3
		c.Family = FamilyV4Only
	})
	var chans []<-chan result
	for range 3 {
		chans = append(chans, resolveAsync(r, "slow.test"))
	}
	_, err := resolveSync(t, r, "slow.test")
	checkErr(t, "4th waiter", err, ErrPendingOverflow)
	_, err = resolveSync(t, r, "other.test")
	checkErr(t, "other host", err, ErrPendingOverflow)
	if st := r.Stats(); st.PendingOverflow != 2 || st.Pending != 3 {
		t.Fatalf("stats %+v", st)
	}
	s.Release("slow.test")
	for _, ch := range chans {
		if _, err := wait(t, ch); err != nil {
			t.Fatal(err)
		}
	}
	if p := r.Stats().Pending; p != 0 {
		t.Fatalf("pending %d after delivery", p)
	}
	mustResolve(t, r, "other.test")
}

func TestStopFailsWaiters(t *testing.T) {
	s := dnstest.New(t)
	s.Set("held.test", 60, "192.0.2.1")
	s.Hold("held.test")
	s.Set("queued.test", 60, "192.0.2.2")
	s.Hold("queued.test")
	r, _ := newTestResolver(t, s, func(c *Config) { c.Workers = 1 })
	held := []<-chan result{resolveAsync(r, "held.test"), resolveAsync(r, "held.test")}
	s.WaitQueries("held.test", dns.TypeA, 1)
	queued := resolveAsync(r, "queued.test") // the only worker is busy
	start := time.Now()
	r.Stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v: running queries not cancelled", d)
	}
	for _, ch := range append(held, queued) {
		select {
		case res := <-ch:
			checkErr(t, "waiter", res.err, ErrStopped)
		default:
			t.Fatal("a waiter was not called by the time Stop returned")
		}
	}
	_, err := resolveSync(t, r, "new.test")
	checkErr(t, "after Stop", err, ErrStopped)
	if p := r.Stats().Pending; p != 0 {
		t.Errorf("pending %d after Stop", p)
	}
	r.Stop() // idempotent
	if err := r.Start(); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

func TestPreresolve(t *testing.T) {
	s := dnstest.New(t)
	s.Set("pre.test", 10, "192.0.2.1")
	s.Set("pre2.test", 10, "192.0.2.2")
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.Preresolve = []string{"pre.test", "PRE2.test", "192.0.2.3"}
		c.HostTTL = time.Minute
		c.Family = FamilyV4Only
	})
	select {
	case <-r.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Ready not closed")
	}
	for _, h := range []string{"pre.test", "pre2.test"} {
		if a := r.Lookup([]byte(h)); a == nil || a.Err != nil {
			t.Fatalf("Lookup(%s) = %+v after Ready", h, a)
		}
	}
	// Pinned: refreshed although unused, and never evicted. (A refresh
	// that ends while the clock is advanced may be followed by another one
	// in the same Advance, so the counts are lower bounds.)
	for i := range 4 {
		clk.Advance(20 * time.Second)
		want := uint64(2 * (i + 2))
		waitFor(t, "refreshes of pinned hosts", func() bool {
			return r.Stats().QuerySuccess >= want && !resolving(r)
		})
	}
	if q := s.Queries("pre.test", dns.TypeA); q < 5 {
		t.Errorf("%d queries for a pinned host, want at least 5", q)
	}
	if n := r.Stats().NumHosts; n != 2 {
		t.Errorf("NumHosts %d after 100s unused, want the 2 pinned hosts", n)
	}
}

func TestDump(t *testing.T) {
	s := dnstest.New(t)
	s.Set("ok.test", 60, "192.0.2.1")
	s.SetRcode("bad.test", dns.RcodeServerFailure)
	s.Set("held.test", 60, "192.0.2.2")
	s.Hold("held.test")
	r, _ := newTestResolver(t, s, func(c *Config) { c.Family = FamilyV4Only })
	mustResolve(t, r, "ok.test")
	resolveWait(t, r, "bad.test")
	ch := resolveAsync(r, "held.test")
	s.WaitQueries("held.test", dns.TypeA, 1)
	d := r.Dump()
	if len(d) != 3 {
		t.Fatalf("Dump has %d hosts: %+v", len(d), d)
	}
	want := map[string]HostState{"bad.test": StateFailed, "held.test": StateResolving, "ok.test": StateValid}
	for _, h := range d {
		if h.State != want[h.Host] {
			t.Errorf("%s: state %s, want %s", h.Host, h.State, want[h.Host])
		}
	}
	if d[0].Host != "bad.test" || d[0].Error == "" || d[1].Waiters != 1 || d[2].TTLLeft != 60*time.Second || len(d[2].Addrs) != 1 {
		t.Errorf("Dump %+v", d)
	}
	s.Release("held.test")
	wait(t, ch)
}
