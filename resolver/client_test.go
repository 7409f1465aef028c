package resolver

import (
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// TestSearchList: resolv.conf's search list and ndots decide which names
// are queried, in which order.
func TestSearchList(t *testing.T) {
	s := dnstest.New(t)
	s.Set("www.svc.test", 60, "192.0.2.1")
	s.Set("a.b.test", 60, "192.0.2.2")
	s.Set("x.y", 60, "192.0.2.3")
	s.Set("abs.test", 60, "192.0.2.4")
	s.Set("abs.test.corp.test", 60, "192.0.2.99")
	conf := writeFile(t, "resolv.conf", `# test
nameserver `+s.Addr()+`
search corp.test svc.test
options ndots:2 timeout:2 attempts:1
`)
	r, _ := newTestResolver(t, nil, func(c *Config) {
		c.ResolvConf = conf
		c.Family = FamilyV4Only
	})

	// 0 dots < ndots: suffixes first; found on the second one.
	checkAddrs(t, "www", mustResolve(t, r, "www").Addrs, "192.0.2.1")
	for name, want := range map[string]int{"www.corp.test": 1, "www.svc.test": 1, "www": 0} {
		if q := s.Queries(name, dns.TypeA); q != want {
			t.Errorf("%s: %d queries, want %d", name, q, want)
		}
	}
	// 2 dots >= ndots: as-is first, found, no suffix tried.
	checkAddrs(t, "a.b.test", mustResolve(t, r, "a.b.test").Addrs, "192.0.2.2")
	if q := s.Queries("a.b.test.corp.test", dns.TypeA); q != 0 {
		t.Errorf("suffix tried before the name itself")
	}
	// 1 dot < ndots: suffixes (NXDOMAIN) then as-is.
	checkAddrs(t, "x.y", mustResolve(t, r, "x.y").Addrs, "192.0.2.3")
	for _, name := range []string{"x.y.corp.test", "x.y.svc.test", "x.y"} {
		if q := s.Queries(name, dns.TypeA); q != 1 {
			t.Errorf("%s: %d queries, want 1", name, q)
		}
	}
	// Absolute name: no search list, even though a suffixed name exists.
	checkAddrs(t, "abs.test.", mustResolve(t, r, "abs.test.").Addrs, "192.0.2.4")
	if q := s.Queries("abs.test.corp.test", dns.TypeA); q != 0 {
		t.Errorf("search list applied to an absolute name")
	}
	// Not found anywhere: ErrNotFound after every candidate.
	_, err := resolveWait(t, r, "nope")
	checkErr(t, "nope", err, ErrNotFound)
	if s.Queries("nope", dns.TypeA) != 1 || s.Queries("nope.svc.test", dns.TypeA) != 1 {
		t.Error("not every candidate tried")
	}
}

// TestNameserverFailover: SERVFAIL or REFUSED moves on to the next server;
// NXDOMAIN is an answer and does not.
func TestNameserverFailover(t *testing.T) {
	s1, s2 := dnstest.New(t), dnstest.New(t)
	s1.SetRcode("fail.test", dns.RcodeServerFailure)
	s2.Set("fail.test", 60, "192.0.2.2")
	s2.Set("nx.test", 60, "192.0.2.3")
	r, _ := newTestResolver(t, nil, func(c *Config) {
		c.Nameservers = []string{s1.Addr(), s2.Addr()}
		c.Family = FamilyV4Only
	})
	checkAddrs(t, "fail.test", mustResolve(t, r, "fail.test").Addrs, "192.0.2.2")
	if s1.Queries("fail.test", dns.TypeA) != 1 || s2.Queries("fail.test", dns.TypeA) != 1 {
		t.Error("want one query on each server")
	}
	_, err := resolveWait(t, r, "nx.test")
	checkErr(t, "nx.test", err, ErrNotFound)
	if s2.Queries("nx.test", dns.TypeA) != 0 {
		t.Error("NXDOMAIN retried on the next server")
	}
}

// TestAttemptsAndRotate: "attempts" rounds over the servers; "rotate"
// spreads queries over them.
func TestAttemptsAndRotate(t *testing.T) {
	s1, s2 := dnstest.New(t), dnstest.New(t)
	hosts := []string{"h1.test", "h2.test", "h3.test", "h4.test"}
	for _, h := range hosts {
		s1.Set(h, 60, "192.0.2.1")
		s2.Set(h, 60, "192.0.2.2")
	}
	s1.SetRcode("bad.test", dns.RcodeServerFailure)
	s2.SetRcode("bad.test", dns.RcodeServerFailure)
	conf := writeFile(t, "resolv.conf", "nameserver "+s1.Addr()+"\nnameserver "+s2.Addr()+
		"\noptions rotate attempts:3\n")
	r, _ := newTestResolver(t, nil, func(c *Config) {
		c.ResolvConf = conf
		c.Family = FamilyV4Only
	})
	for _, h := range hosts {
		mustResolve(t, r, h)
	}
	n1, n2 := 0, 0
	for _, h := range hosts {
		n1 += s1.Queries(h, dns.TypeA)
		n2 += s2.Queries(h, dns.TypeA)
	}
	if n1 != 2 || n2 != 2 {
		t.Errorf("rotate: %d and %d queries, want 2 and 2", n1, n2)
	}
	_, err := resolveWait(t, r, "bad.test")
	checkErr(t, "bad.test", err, ErrServerFailure)
	if q1, q2 := s1.Queries("bad.test", dns.TypeA), s2.Queries("bad.test", dns.TypeA); q1 != 3 || q2 != 3 {
		t.Errorf("attempts:3 over 2 servers: %d and %d queries, want 3 and 3", q1, q2)
	}
}

func TestHostsFileFirst(t *testing.T) {
	s := dnstest.New(t)
	s.Set("dns-only.test", 60, "192.0.2.9")
	s.Set("v6-in-hosts.test", 60, "192.0.2.10")
	hosts := writeFile(t, "hosts", "192.0.2.50 myhost.test alias.test # comment\n"+
		"2001:db8::50 myhost.test\n2001:db8::51 v6-in-hosts.test\n")
	r, _ := newTestResolver(t, s, func(c *Config) {
		c.HostsFile = hosts
		c.Family = FamilyV4Only
	})
	a := mustResolve(t, r, "myhost.test")
	checkAddrs(t, "myhost.test", a.Addrs, "192.0.2.50")
	if a.TTL != DefaultMinTTL {
		t.Errorf("hosts-file TTL %v, want MinTTL", a.TTL)
	}
	checkAddrs(t, "alias.test", mustResolve(t, r, "alias.test").Addrs, "192.0.2.50")
	// Listed only with the other family: DNS is asked.
	checkAddrs(t, "v6-in-hosts.test", mustResolve(t, r, "v6-in-hosts.test").Addrs, "192.0.2.10")
	checkAddrs(t, "dns-only.test", mustResolve(t, r, "dns-only.test").Addrs, "192.0.2.9")
	if s.Queries("myhost.test", dns.TypeA)+s.Queries("alias.test", dns.TypeA) != 0 {
		t.Error("hosts-file names were sent to DNS")
	}
}

func TestHostsFileReload(t *testing.T) {
	p := writeFile(t, "hosts", "192.0.2.1 a.test\n")
	h := newHostsFile(p)
	checkAddrs(t, "before", h.lookup("a.test."), "192.0.2.1")
	if err := os.WriteFile(p, []byte("192.0.2.2 a.test\n192.0.2.3 b.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	os.Chtimes(p, future, future)
	checkAddrs(t, "after", h.lookup("a.test"), "192.0.2.2")
	checkAddrs(t, "new name", h.lookup("b.test"), "192.0.2.3")
	os.Remove(p)
	if got := h.lookup("a.test"); got != nil {
		t.Errorf("removed file still answers %v", got)
	}
}
