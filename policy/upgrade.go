package policy

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// upgradeSet is a compiled Rule.Upgrades: the protocols a request may
// switch to. Built by Compile, read-only afterwards and shared by every
// Decision of its rule.
type upgradeSet struct {
	any    bool // "*"
	protos []upgradeProto
}

// upgradeProto is one protocol of Rule.Upgrades, in lower case.
type upgradeProto struct {
	name    string
	version string // "": any version
}

// The upgrade sets of rules that do not list Upgrades.
var (
	// websocketOnly: a rule without Upgrades and Methods, and the default
	// action. WebSocket (RFC 6455) is what browsers and most clients
	// upgrade to through a forward proxy.
	websocketOnly = &upgradeSet{protos: []upgradeProto{{name: "websocket"}}}
	// noUpgrades: a rule that restricts Methods without listing Upgrades,
	// whose author chose what may be sent, and did not choose a switch to
	// another protocol on the same connection.
	noUpgrades = &upgradeSet{}
)

// compileUpgrades validates Rule.Upgrades (at field, "policy.rules[i]") and
// returns the set a Decision of the rule carries.
// Every bad entry is reported, as a ConfigErrors.
func compileUpgrades(field string, r Rule) (*upgradeSet, error) {
	if len(r.Upgrades) == 0 {
		if len(r.Methods) > 0 {
			return noUpgrades, nil
		}
		return websocketOnly, nil
	}
	set := &upgradeSet{}
	var errs ConfigErrors
	for j, u := range r.Upgrades {
		if u == "*" {
			set.any = true
			continue
		}
		name, version, hasVersion := strings.Cut(u, "/")
		if !isToken(name) || name == "*" || (hasVersion && !isToken(version)) {
			errs = append(errs, configErrorf(fmt.Sprintf("%s.upgrades[%d]", field, j), u,
				`not a protocol (want a name such as "websocket", name/version such as "HTTP/2.0", or "*")`))
			continue
		}
		set.protos = append(set.protos, upgradeProto{strings.ToLower(name), strings.ToLower(version)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return set, nil
}

// AllowsUpgrade reports whether the request d decided may switch to proto,
// one element of its Upgrade field (RFC 9110 §7.8: protocol-name
// ["/" protocol-version], such as "websocket", "h2c" or "HTTP/2.0"), with
// optional whitespace around it. The engine must not forward an Upgrade
// request unless AllowsUpgrade holds for the protocols it offers; refusing
// the request with ErrDestinationDenied or forwarding it without Upgrade
// are its choice.
//
// The protocol name is compared ignoring ASCII case (WebSocket clients and
// servers do, RFC 6455 §4.2.1, so "WebSocket" must not pass a rule that
// only stops "websocket"); an entry of Rule.Upgrades with a version allows
// only that version, one without any. The protocols allowed are the
// deciding rule's Upgrades if it has them ("*": any); otherwise websocket
// only for a rule without Methods and for the default action, and none for
// a rule that restricts Methods. A denying Decision allows nothing, and
// neither does a malformed proto. AllowsUpgrade does not allocate.
//
// Without any Policy, DefaultDecision applies the same default.
func (d Decision) AllowsUpgrade(proto []byte) bool {
	if !d.Allow || d.upgrades == nil {
		return false
	}
	proto = bytes.Trim(proto, " \t")
	name, version := proto, []byte(nil)
	if i := bytes.IndexByte(proto, '/'); i >= 0 {
		name, version = proto[:i], proto[i+1:]
		if !isTokenBytes(version) {
			return false
		}
	}
	if !isTokenBytes(name) {
		return false
	}
	s := d.upgrades
	if s.any {
		return true
	}
	for i := range s.protos {
		p := &s.protos[i]
		if ascii.EqualFold(name, p.name) && (p.version == "" || ascii.EqualFold(version, p.version)) {
			return true
		}
	}
	return false
}

// isTokenBytes is isToken of b.
func isTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenBytes[c] {
			return false
		}
	}
	return true
}

// DefaultDecision is the decision of a proxy that has no Policy at all: every
// destination allowed, and upgrades as under the default action (websocket
// only).
func DefaultDecision() Decision { return Decision{Allow: true, upgrades: websocketOnly} }
