package dnstest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func exchange(t *testing.T, s *Server, network, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 500 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, s.Addr())
	return r, err
}

func TestServer(t *testing.T) {
	s := New(t)
	s.Set("Both.Test.", 42, "192.0.2.1", "2001:db8::1")
	s.SetCNAME("alias.test", "both.test", 7)
	s.SetRcode("fail.test", dns.RcodeServerFailure)
	s.Set("aaaa-fails.test", 1, "192.0.2.5")
	s.SetRcode("aaaa-fails.test", dns.RcodeRefused, dns.TypeAAAA)
	s.Set("tc.test", 1, "192.0.2.3")
	s.SetTruncate("tc.test", true)
	s.Set("drop.test", 1, "192.0.2.4")
	s.SetDrop("drop.test", true)

	r, err := exchange(t, s, "udp", "both.test", dns.TypeA)
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" || r.Answer[0].Header().Ttl != 42 {
		t.Fatalf("A: %v %v", r, err)
	}
	r, _ = exchange(t, s, "tcp", "both.test", dns.TypeAAAA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "2001:db8::1" {
		t.Fatalf("AAAA over TCP: %v", r)
	}
	r, _ = exchange(t, s, "udp", "alias.test", dns.TypeA)
	if len(r.Answer) != 2 || r.Answer[0].Header().Rrtype != dns.TypeCNAME || r.Answer[1].Header().Name != "both.test." {
		t.Fatalf("CNAME: %v", r)
	}
	for name, want := range map[string]int{"nothing.test": dns.RcodeNameError, "fail.test": dns.RcodeServerFailure} {
		if r, _ := exchange(t, s, "udp", name, dns.TypeA); r.Rcode != want {
			t.Errorf("%s: rcode %d, want %d", name, r.Rcode, want)
		}
	}
	if r, _ := exchange(t, s, "udp", "aaaa-fails.test", dns.TypeAAAA); r.Rcode != dns.RcodeRefused {
		t.Errorf("per-type rcode: %v", r)
	}
	if r, _ := exchange(t, s, "udp", "aaaa-fails.test", dns.TypeA); r.Rcode != 0 || len(r.Answer) != 1 {
		t.Errorf("other type must answer normally: %v", r)
	}
	if r, _ := exchange(t, s, "udp", "tc.test", dns.TypeA); !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP must be truncated: %v", r)
	}
	if r, _ := exchange(t, s, "tcp", "tc.test", dns.TypeA); r.Truncated || len(r.Answer) != 1 {
		t.Errorf("TCP must be complete: %v", r)
	}
	if _, err := exchange(t, s, "udp", "drop.test", dns.TypeA); err == nil {
		t.Error("dropped query answered")
	}
	if s.Queries("both.test", dns.TypeA) != 1 || s.Queries("tc.test", dns.TypeA) != 2 || s.TCPQueries("tc.test", dns.TypeA) != 1 {
		t.Error("counters")
	}
	s.Remove("both.test")
	if r, _ := exchange(t, s, "udp", "both.test", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("after Remove: %v", r)
	}
}

func TestHoldAndDelay(t *testing.T) {
	s := New(t)
	s.Set("held.test", 1, "192.0.2.1")
	s.Hold("held.test")
	done := make(chan *dns.Msg)
	go func() {
		c := &dns.Client{Timeout: 5 * time.Second}
		m := new(dns.Msg)
		m.SetQuestion("held.test.", dns.TypeA)
		r, _, _ := c.Exchange(m, s.Addr())
		done <- r
	}()
	s.WaitQueries("held.test", dns.TypeA, 1)
	s.Set("held.test", 1, "192.0.2.2") // the answer at release time is sent
	s.Release("held.test")
	if r := <-done; r == nil || r.Answer[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Fatalf("held answer %v", r)
	}

	s.SetDelay("slow.test", 100*time.Millisecond)
	s.Set("slow.test", 1, "192.0.2.3")
	start := time.Now()
	if _, err := exchange(t, s, "udp", "slow.test", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %v, want >= 100ms", d)
	}
}

// TestCloseReleasesHeld: Close returns although queries are held.
func TestCloseReleasesHeld(t *testing.T) {
	s := New(t)
	s.Hold("held.test")
	go func() {
		m := new(dns.Msg)
		m.SetQuestion("held.test.", dns.TypeA)
		(&dns.Client{Timeout: time.Second}).Exchange(m, s.Addr())
	}()
	s.WaitQueries("held.test", dns.TypeA, 1)
	s.Close()
}
