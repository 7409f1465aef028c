package policy

import (
	"errors"
	"slices"
	"testing"
)

func TestAllowsUpgrade(t *testing.T) {
	p := mustCompile(t, Config{Rules: []Rule{
		{Name: "plain", Hosts: []string{"plain.test"}, Action: "allow"},
		{Name: "methods", Hosts: []string{"api.test"}, Methods: []string{"GET"}, Action: "allow"},
		{Name: "methods-ws", Hosts: []string{"ws.test"}, Methods: []string{"GET"}, Upgrades: []string{"WebSocket"}, Action: "allow"},
		{Name: "h2c", Hosts: []string{"h2c.test"}, Upgrades: []string{"h2c", "HTTP/2.0"}, Action: "allow"},
		{Name: "any", Hosts: []string{"any.test"}, Upgrades: []string{"*"}, Action: "allow"},
		{Name: "denied", Hosts: []string{"denied.test"}, Upgrades: []string{"*"}, Action: "deny"},
	}})
	tests := []struct {
		host  string
		proto string
		allow bool
	}{
		// A rule without upgrades or methods: websocket only.
		{"plain.test", "websocket", true},
		{"plain.test", "WebSocket", true},
		{"plain.test", " websocket\t", true},
		{"plain.test", "websocket/13", true},
		{"plain.test", "h2c", false},
		{"plain.test", "HTTP/2.0", false},
		{"plain.test", "websockets", false},
		{"plain.test", "web socket", false},
		{"plain.test", "", false},
		{"plain.test", "websocket/", false},
		{"plain.test", "/13", false},
		{"plain.test", "websocket\r", false},
		// Methods without upgrades: none.
		{"api.test", "websocket", false},
		{"api.test", "h2c", false},
		// Methods with upgrades: the list.
		{"ws.test", "websocket", true},
		{"ws.test", "WEBSOCKET", true},
		{"ws.test", "h2c", false},
		// Names with and without a version.
		{"h2c.test", "h2c", true},
		{"h2c.test", "H2C/1", true},
		{"h2c.test", "http/2.0", true},
		{"h2c.test", "HTTP/2.0", true},
		{"h2c.test", "HTTP/1.1", false},
		{"h2c.test", "HTTP", false},
		{"h2c.test", "websocket", false},
		// "*": any protocol, as long as it is one.
		{"any.test", "anything", true},
		{"any.test", "x/1", true},
		{"any.test", "", false},
		{"any.test", "a b", false},
		// A denial allows nothing; the default action allows websocket.
		{"denied.test", "websocket", false},
		{"other.test", "websocket", true},
		{"other.test", "h2c", false},
	}
	for _, tc := range tests {
		d := p.Check(&Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte(tc.host), Port: 80})
		if got := d.AllowsUpgrade([]byte(tc.proto)); got != tc.allow {
			t.Errorf("%s (rule %q): AllowsUpgrade(%q) = %v, want %v", tc.host, d.Rule, tc.proto, got, tc.allow)
		}
	}

	deny := mustCompile(t, Config{DefaultAction: "deny"})
	d := deny.Check(&Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte("x.test"), Port: 80})
	if d.AllowsUpgrade([]byte("websocket")) {
		t.Error("default deny allows websocket")
	}
	if (Decision{Allow: true}).AllowsUpgrade([]byte("websocket")) {
		t.Error("a Decision not made by Check allows websocket")
	}
}

// TestUpgradesEveryError: every bad entry of a rule's upgrades is reported.
func TestUpgradesEveryError(t *testing.T) {
	_, err := Compile(Config{Rules: []Rule{{Action: "allow", Upgrades: []string{"web socket", "h2c", "*/1", "a/b c"}}}})
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("Compile: %v", err)
	}
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	want := []string{"policy.rules[0].upgrades[0]", "policy.rules[0].upgrades[2]", "policy.rules[0].upgrades[3]"}
	if !slices.Equal(fields, want) {
		t.Fatalf("fields %v, want %v", fields, want)
	}
}

func TestDefaultDecision(t *testing.T) {
	d := DefaultDecision()
	for proto, want := range map[string]bool{"websocket": true, " WebSocket/13 ": true, "h2c": false, "": false} {
		if got := d.AllowsUpgrade([]byte(proto)); got != want {
			t.Errorf("%q: %v, want %v", proto, got, want)
		}
	}
}
