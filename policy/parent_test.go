package policy

import (
	"strings"
	"testing"
)

func TestParseParent(t *testing.T) {
	p, err := ParseParent("http://ci:s3cret@Proxy.Corp.test:3128")
	if err != nil || p.Host != "proxy.corp.test" || p.Port != 3128 || p.Authority != "Proxy.Corp.test:3128" || p.Authorization != "Basic Y2k6czNjcmV0" {
		t.Fatalf("%+v %v", p, err)
	}
	if p, err := ParseParent("http://[::1]:8080/"); err != nil || p.Host != "::1" || p.Authority != "[::1]:8080" || p.Authorization != "" {
		t.Fatalf("%+v %v", p, err)
	}
	for _, bad := range []string{"https://p.test:3128", "http://p.test", "http://p.test:0", "http://p.test:99999", "http://p.test:3128/x", "p.test:3128", "http://:3128"} {
		if _, err := ParseParent(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestCompileVia(t *testing.T) {
	_, err := Compile(Config{Rules: []Rule{
		{Name: "a", Action: "allow", Via: "http://u:hidden@p.test"},
		{Name: "b", Action: "deny", Via: "http://p.test:3128"},
		{Name: "c", Action: "allow", Via: "http://p.test:3128", UpstreamTLS: true},
	}})
	msg := err.Error()
	for _, want := range []string{"policy.rules[0].via", "policy.rules[1].via", "policy.rules[2].via", "not with upstream_tls"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in %s", want, msg)
		}
	}
	if strings.Contains(msg, "hidden") {
		t.Errorf("password shown: %s", msg)
	}
	p, err := Compile(Config{Rules: []Rule{{Name: "a", Hosts: []string{"x.test"}, Action: "allow", Via: "http://p.test:3128"}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Check(&Request{Host: []byte("x.test"), Port: 80, Method: []byte("GET")}); d.Via == nil || d.Via.Port != 3128 {
		t.Fatalf("decision %+v", d)
	}
}
