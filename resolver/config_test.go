package resolver

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.ResolvConf != DefaultResolvConf || c.HostsFile != DefaultHostsFile || c.MinTTL != DefaultMinTTL ||
		c.MaxTTL != DefaultMaxTTL || c.HostTTL != DefaultHostTTL || c.MaxHosts != DefaultMaxHosts ||
		c.MaxPending != DefaultMaxPending || c.QueryTimeout != DefaultQueryTimeout || c.Workers != DefaultWorkers ||
		c.FailureBackoffBase != DefaultFailureBackoffBase || c.FailureBackoffMax != DefaultFailureBackoffMax ||
		c.MaxStale != DefaultMaxStale || c.Family != FamilyAuto || c.Clock == nil ||
		c.MaxNegativeHosts != DefaultMaxNegativeHosts || c.CacheFile != "" ||
		c.CacheFileInterval != DefaultCacheFileInterval || c.Logger == nil {
		t.Errorf("defaults %+v", c)
	}
}

// TestMaxNegativeHostsDefault: a quarter of MaxHosts, at least 1; a value
// given is kept.
func TestMaxNegativeHostsDefault(t *testing.T) {
	for _, tt := range []struct{ maxHosts, maxNeg, want int }{
		{0, 0, DefaultMaxNegativeHosts},
		{100, 0, 25},
		{7, 0, 1},
		{1, 0, 1},
		{100, 100, 100},
		{100, 3, 3},
	} {
		c, err := Config{MaxHosts: tt.maxHosts, MaxNegativeHosts: tt.maxNeg}.withDefaults()
		if err != nil || c.MaxNegativeHosts != tt.want {
			t.Errorf("MaxHosts %d, MaxNegativeHosts %d: got %d, %v; want %d",
				tt.maxHosts, tt.maxNeg, c.MaxNegativeHosts, err, tt.want)
		}
	}
}

// TestConfigInvalid: every bad value is refused by New, naming the field by
// its key in the config file.
func TestConfigInvalid(t *testing.T) {
	for _, tt := range []struct {
		field string
		cfg   Config
	}{
		{"resolver.min_ttl", Config{MinTTL: 500 * time.Millisecond}},
		{"resolver.min_ttl", Config{MinTTL: -time.Second}},
		{"resolver.max_ttl", Config{MinTTL: time.Minute, MaxTTL: time.Second}},
		{"resolver.host_ttl", Config{HostTTL: -1}},
		{"resolver.query_timeout", Config{QueryTimeout: -1}},
		{"resolver.failure_backoff_max", Config{FailureBackoffBase: time.Minute, FailureBackoffMax: time.Second}},
		{"resolver.max_hosts", Config{MaxHosts: -1}},
		{"resolver.max_pending", Config{MaxPending: -5}},
		{"resolver.max_negative_hosts", Config{MaxNegativeHosts: -1}},
		{"resolver.max_negative_hosts", Config{MaxHosts: 10, MaxNegativeHosts: 11}},
		{"resolver.workers", Config{Workers: -1}},
		{"resolver.cache_file_interval", Config{CacheFileInterval: -time.Second}},
		{"resolver.family", Config{Family: 9}},
		{"resolver.nameservers[1]", Config{Nameservers: []string{"127.0.0.1", "dns.example"}}},
		{"resolver.nameservers[0]", Config{Nameservers: []string{"127.0.0.1:0"}}},
		{"resolver.preresolve[0]", Config{Preresolve: []string{"bad host"}}},
		{"resolver.preresolve", Config{MaxHosts: 1, Preresolve: []string{"a.test", "b.test"}}},
		{"resolver.resolv_conf", Config{ResolvConf: "/nonexistent/resolv.conf"}},
	} {
		tt.cfg.HostsFile = Disabled
		_, err := New(tt.cfg)
		var ce *ConfigError
		if err == nil || !strings.HasPrefix(err.Error(), tt.field+": ") || !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: error %v", tt.field, err)
		}
	}
}

// TestConfigValidateEvery: Validate reports every bad field, and a check of
// two fields names both by their keys.
func TestConfigValidateEvery(t *testing.T) {
	err := Config{MinTTL: 10 * time.Second, MaxTTL: 5 * time.Second, Workers: -1,
		Nameservers: []string{"dns.test", "127.0.0.1", "::1:0:x"}}.Validate()
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T %v", err, err)
	}
	want := `resolver.max_ttl: "5s": must be at least resolver.min_ttl (10s)
resolver.workers: "-1": must not be negative
resolver.nameservers[0]: "dns.test": not an IP address or IP:port
resolver.nameservers[2]: "::1:0:x": not an IP address or IP:port`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestParseNameserver(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":         "192.0.2.1:53",
		"192.0.2.1:5353":    "192.0.2.1:5353",
		"2001:db8::1":       "[2001:db8::1]:53",
		"[2001:db8::1]":     "[2001:db8::1]:53",
		"[2001:db8::1]:853": "[2001:db8::1]:853",
		"fe80::1%eth0":      "[fe80::1%eth0]:53",
	} {
		got, err := parseNameserver(in)
		if err != nil || got != want {
			t.Errorf("parseNameserver(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseFamily(t *testing.T) {
	for _, f := range []Family{FamilyAuto, FamilyV4Only, FamilyV6Only, FamilyV4Preferred, FamilyAll} {
		got, err := ParseFamily(strings.ToUpper(f.String()))
		if err != nil || got != f {
			t.Errorf("ParseFamily(%q) = %v, %v", f.String(), got, err)
		}
		var u Family
		b, _ := f.MarshalText()
		if err := u.UnmarshalText(b); err != nil || u != f {
			t.Errorf("text round trip of %v: %v, %v", f, u, err)
		}
	}
	if _, err := ParseFamily("v4"); err == nil {
		t.Error(`ParseFamily("v4") succeeded`)
	}
}

func TestValidHostName(t *testing.T) {
	good := []string{"a", "example.com", "example.com.", "a-b.c_d.e", "1password.com", "xn--bcher-kva.example",
		strings.Repeat("a", 63) + ".com"}
	bad := []string{"", ".", "a..b", ".a", "-a.com", "a-.com", "a.-b", "A.com", "a b", "a/b", "a:b",
		strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "ab"}
	for _, h := range good {
		if !validHostName(h) {
			t.Errorf("validHostName(%q) = false", h)
		}
	}
	for _, h := range bad {
		if validHostName(h) {
			t.Errorf("validHostName(%q) = true", h)
		}
	}
}
