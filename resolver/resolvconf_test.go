package resolver

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseResolvConf(t *testing.T) {
	rc, err := parseResolvConf(strings.NewReader(`
# comment
nameserver 192.0.2.53
nameserver 2001:db8::53 ; trailing comment
nameserver not-an-ip
nameserver 127.0.0.1:5353
domain ignored.example
search Corp.Example svc.example.
options ndots:3 timeout:2 attempts:9 rotate unknown:1
options ndots:99
sortlist 10.0.0.0/8
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &resolvConf{
		servers:  []string{"192.0.2.53:53", "[2001:db8::53]:53", "127.0.0.1:5353"},
		search:   []string{"corp.example.", "svc.example."},
		ndots:    15,
		timeout:  2 * time.Second,
		attempts: 5,
		rotate:   true,
	}
	if !slices.Equal(rc.servers, want.servers) || !slices.Equal(rc.search, want.search) ||
		rc.ndots != want.ndots || rc.timeout != want.timeout || rc.attempts != want.attempts || rc.rotate != want.rotate {
		t.Errorf("got %+v\nwant %+v", rc, want)
	}

	rc, _ = parseResolvConf(strings.NewReader("search a.example\ndomain b.example\n"))
	if !slices.Equal(rc.search, []string{"b.example."}) {
		t.Errorf("last of domain/search must win: %v", rc.search)
	}
	rc, _ = parseResolvConf(strings.NewReader(""))
	if rc.ndots != 1 || rc.timeout != 5*time.Second || rc.attempts != 2 || rc.rotate || len(rc.servers) != 0 {
		t.Errorf("defaults %+v", rc)
	}
}

func TestNameList(t *testing.T) {
	rc := &resolvConf{search: []string{"a.example.", "b.example."}, ndots: 1}
	for _, tt := range []struct {
		host string
		want []string
	}{
		{"www", []string{"www.a.example.", "www.b.example.", "www."}},
		{"www.x", []string{"www.x.", "www.x.a.example.", "www.x.b.example."}},
		{"abs.", []string{"abs."}},
	} {
		if got := rc.nameList(tt.host); !slices.Equal(got, tt.want) {
			t.Errorf("nameList(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
	rc.ndots = 0
	if got := rc.nameList("www"); got[0] != "www." {
		t.Errorf("ndots:0: %v, want the name itself first", got)
	}
	if got := (&resolvConf{ndots: 1}).nameList("www"); !slices.Equal(got, []string{"www."}) {
		t.Errorf("no search list: %v", got)
	}
}

func TestParseHosts(t *testing.T) {
	m := parseHosts(strings.NewReader(`
127.0.0.1 localhost
::1 localhost ip6-localhost
192.0.2.1 Web.Example web # comment
192.0.2.1 web.example
::ffff:192.0.2.2 mapped.example
bogus   nothing.example
192.0.2.3
`))
	checkAddrs(t, "localhost", m["localhost"], "127.0.0.1", "::1")
	checkAddrs(t, "web.example", m["web.example"], "192.0.2.1")
	checkAddrs(t, "web", m["web"], "192.0.2.1")
	checkAddrs(t, "mapped", m["mapped.example"], "192.0.2.2")
	if _, ok := m["nothing.example"]; ok || len(m) != 5 {
		t.Errorf("parsed %v", m)
	}
}
