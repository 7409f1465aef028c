package resolver

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config; a zero field means its default.
const (
	DefaultResolvConf         = "/etc/resolv.conf"
	DefaultHostsFile          = "/etc/hosts"
	DefaultMinTTL             = 5 * time.Second // Envoy dns_min_refresh_rate
	DefaultMaxTTL             = time.Hour
	DefaultHostTTL            = 5 * time.Minute // Envoy host_ttl
	DefaultMaxHosts           = 1024            // Envoy max_hosts
	DefaultMaxPending         = 1024            // Envoy max_pending_requests
	DefaultQueryTimeout       = 5 * time.Second // Envoy dns_query_timeout
	DefaultWorkers            = 32
	DefaultFailureBackoffBase = time.Second // Envoy dns_failure_refresh_rate
	DefaultFailureBackoffMax  = time.Minute
	DefaultMaxStale           = 24 * time.Hour // RFC 8767 §5 suggests 1 to 3 days
	DefaultCacheFileInterval  = time.Minute
)

// DefaultMaxNegativeHosts is the default MaxNegativeHosts with the default
// MaxHosts. With MaxHosts set, the default is MaxHosts/4, at least 1.
const DefaultMaxNegativeHosts = DefaultMaxHosts / negativeShare

// negativeShare is the share of MaxHosts that MaxNegativeHosts defaults
// to: 1/negativeShare.
const negativeShare = 4

// Disabled, given as Config.ResolvConf or Config.HostsFile, means "read no file".
const Disabled = "-"

// minMinTTL is the smallest MinTTL accepted: below it the janitor tick
// (tickInterval) could not refresh a host before it expires.
const minMinTTL = time.Second

// Config configures a Resolver. The zero value of every field means its
// documented default (the Default* constants), so Config{} is a working
// configuration. The package documentation lists every setting. It is also
// the `resolver:` section of sluice's config file: the yaml tags are its
// keys, and Validate names them.
type Config struct {
	// Nameservers are the servers to query, as "ip", "ip:port" or
	// "[ipv6]:port" (port 53 if absent). Empty means the nameservers of
	// ResolvConf. Given explicitly, they replace resolv.conf's nameservers
	// but its search list and options still apply (unless ResolvConf is "-").
	Nameservers []string `yaml:"nameservers"`

	// ResolvConf is the resolv.conf(5) file giving nameservers, search list
	// ("search", "domain") and options ndots, timeout, attempts and rotate.
	// It is read once, by New. Default "/etc/resolv.conf" (a missing default
	// file means glibc's defaults: nameserver 127.0.0.1 and ::1, no search
	// list, ndots 1, timeout 5 s, attempts 2); "-" reads no file and uses those
	// defaults.
	ResolvConf string `yaml:"resolv_conf"`

	// HostsFile is the hosts(5) file consulted before DNS; it is re-read
	// when it changes. Default "/etc/hosts" (missing is fine); "-" disables it.
	HostsFile string `yaml:"hosts_file"`

	// Family selects the record types queried and the address order.
	// Default FamilyAuto.
	Family Family `yaml:"family"`

	// MinTTL and MaxTTL clamp the TTL of every answer: the TTL is the
	// smallest TTL of the records used (CNAMEs included). Defaults 5 s and
	// 1 h; MinTTL must be at least 1 s. Hosts-file answers get MinTTL.
	MinTTL time.Duration `yaml:"min_ttl"`
	MaxTTL time.Duration `yaml:"max_ttl"`

	// HostTTL evicts a host that no Lookup or Resolve has asked for in this
	// long (Envoy host_ttl). Default 5 min.
	HostTTL time.Duration `yaml:"host_ttl"`

	// MaxHosts caps the number of cached hosts, negative entries and
	// pending ones included (Envoy max_hosts). A new host beyond it evicts
	// a negatively cached host (see MaxNegativeHosts) or, when there is
	// none that can go, fails at once with ErrCacheOverflow. Default 1024.
	MaxHosts int `yaml:"max_hosts"`

	// MaxNegativeHosts caps the number of negatively cached hosts, those
	// whose current answer is an error (NXDOMAIN, NODATA, SERVFAIL,
	// timeout): anyone who can send requests for made-up names can create
	// them, so they must not fill MaxHosts. A failed resolution that would
	// cache one more evicts the least recently used other one (approximately:
	// second-chance FIFO), or, when every other one is being resolved again,
	// answers its callers and is not cached. Only negative entries are ever
	// evicted for room: good, stale and pending answers and Preresolve
	// hosts never are, and Preresolve hosts do not count here. Default
	// MaxHosts/4, at least 1 (DefaultMaxNegativeHosts with the default
	// MaxHosts); at most MaxHosts.
	MaxNegativeHosts int `yaml:"max_negative_hosts"`

	// MaxPending caps the number of Resolve callbacks waiting for an answer
	// (Envoy max_pending_requests); beyond it Resolve fails at once with
	// ErrPendingOverflow. Default 1024.
	MaxPending int `yaml:"max_pending"`

	// QueryTimeout bounds one resolution of one host, from the moment it is
	// queued until its answer: queue wait, every search-list name, every
	// attempt, both record types. Default 5 s. It uses real time.
	QueryTimeout time.Duration `yaml:"query_timeout"`

	// Workers is the number of resolver goroutines serving the queue.
	// Default 32.
	Workers int `yaml:"workers"`

	// FailureBackoffBase and FailureBackoffMax set the negative-caching time
	// of a failed resolution: after the n-th consecutive failure the
	// failure is cached (or, for a refresh, the last good answer kept) for a
	// random time in [d/2, d] where d = min(Base * 2^(n-1), Max) (Envoy
	// dns_failure_refresh_rate). Defaults 1 s and 60 s.
	FailureBackoffBase time.Duration `yaml:"failure_backoff_base"`
	FailureBackoffMax  time.Duration `yaml:"failure_backoff_max"`

	// MaxStale bounds how long after its expiry the last good answer is kept
	// while refreshes keep failing (RFC 8767 serve-stale); past it a failed
	// refresh publishes the error. Default 24 h; negative disables
	// serve-stale.
	MaxStale time.Duration `yaml:"max_stale"`

	// Preresolve lists hosts resolved by Start. They are pinned: never
	// evicted, and refreshed before expiry even when unused. They count
	// towards MaxHosts.
	Preresolve []string `yaml:"preresolve"`

	// CacheFile, when set, keeps the cache's good answers across restarts
	// (Envoy's key_value_config for its DNS cache): every
	// CacheFileInterval and at Stop, the host, addresses, resolution time
	// and TTL of every cached host with a good answer (stale ones and
	// Preresolve hosts included; failures never) are written to it,
	// atomically (a temporary file in the same directory, synced, then
	// renamed over it). Start loads it: each host it names is cached with
	// its saved answer marked Stale, served at once, and refreshed in the
	// background on its first use (Preresolve hosts at once), so that a
	// restart while every nameserver is down still serves the hosts it
	// knew. A saved answer is served for at most MaxStale past the expiry
	// of the resolution that produced it (resolution time + TTL), counted
	// from that resolution, not from the restart; with serve-stale
	// disabled only until that expiry. At most MaxHosts hosts are loaded
	// (less the Preresolve hosts not in the file), the most recently
	// resolved first. A missing file is normal; an unreadable, corrupt or
	// other-version file is ignored, and an invalid entry skipped, with a
	// warning to Logger. Default "" (off). One file per Resolver: two
	// resolvers must not share it. New does not touch the file.
	CacheFile string `yaml:"cache_file"`

	// CacheFileInterval is how often CacheFile is written while running.
	// Default 1 min; it follows Clock.
	CacheFileInterval time.Duration `yaml:"cache_file_interval"`

	// Logger receives the resolver's warnings (cache file problems).
	// Default slog.Default().
	Logger *slog.Logger `yaml:"-"`

	// Clock is the time source for TTLs, backoff and eviction. Default
	// SystemClock().
	Clock Clock `yaml:"-"`
}

// WithDefaults returns c with every zero field set to its default, as New
// uses it (Nameservers in "ip:port" form, Preresolve in lower case), and
// Validate's errors. /config shows it.
func (c Config) WithDefaults() (Config, error) { return c.withDefaults() }

// Validate checks every field of c and returns all the errors it finds, as
// ConfigErrors (nil if none): each names the field by its key in the config
// file ("resolver.min_ttl", "resolver.nameservers[1]"), a check of two
// fields names both keys. It reads no file (New reads ResolvConf).
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns a copy of c with defaults filled in and checks every
// field; the error is ConfigErrors, naming every bad field.
func (c Config) withDefaults() (Config, error) {
	var errs ConfigErrors
	bad := func(field, value, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: "resolver." + field, Value: value, Reason: fmt.Sprintf(format, args...), Kind: ErrInvalidConfig})
	}
	if c.ResolvConf == "" {
		c.ResolvConf = DefaultResolvConf
	}
	if c.HostsFile == "" {
		c.HostsFile = DefaultHostsFile
	}
	if c.Family > FamilyAll {
		bad("family", c.Family.String(), "unknown address family")
	}
	durations := []struct {
		name string
		p    *time.Duration
		def  time.Duration
	}{
		{"min_ttl", &c.MinTTL, DefaultMinTTL},
		{"max_ttl", &c.MaxTTL, DefaultMaxTTL},
		{"host_ttl", &c.HostTTL, DefaultHostTTL},
		{"query_timeout", &c.QueryTimeout, DefaultQueryTimeout},
		{"failure_backoff_base", &c.FailureBackoffBase, DefaultFailureBackoffBase},
		{"failure_backoff_max", &c.FailureBackoffMax, DefaultFailureBackoffMax},
		{"cache_file_interval", &c.CacheFileInterval, DefaultCacheFileInterval},
	}
	for _, d := range durations {
		if *d.p < 0 {
			bad(d.name, d.p.String(), "must not be negative")
			*d.p = d.def // so that the checks below do not repeat it
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if c.MaxStale == 0 {
		c.MaxStale = DefaultMaxStale
	}
	if c.MinTTL < minMinTTL {
		bad("min_ttl", c.MinTTL.String(), "must be at least %v", minMinTTL)
	} else if c.MaxTTL < c.MinTTL {
		bad("max_ttl", c.MaxTTL.String(), "must be at least resolver.min_ttl (%v)", c.MinTTL)
	}
	if c.FailureBackoffMax < c.FailureBackoffBase {
		bad("failure_backoff_max", c.FailureBackoffMax.String(),
			"must be at least resolver.failure_backoff_base (%v)", c.FailureBackoffBase)
	}
	ints := []struct {
		name string
		p    *int
		def  int
	}{
		{"max_hosts", &c.MaxHosts, DefaultMaxHosts},
		{"max_pending", &c.MaxPending, DefaultMaxPending},
		{"workers", &c.Workers, DefaultWorkers},
	}
	for _, n := range ints {
		if *n.p < 0 {
			bad(n.name, strconv.Itoa(*n.p), "must not be negative")
			*n.p = n.def
		}
		if *n.p == 0 {
			*n.p = n.def
		}
	}
	switch {
	case c.MaxNegativeHosts < 0:
		bad("max_negative_hosts", strconv.Itoa(c.MaxNegativeHosts), "must not be negative")
	case c.MaxNegativeHosts == 0:
		c.MaxNegativeHosts = max(c.MaxHosts/negativeShare, 1)
	case c.MaxNegativeHosts > c.MaxHosts:
		bad("max_negative_hosts", strconv.Itoa(c.MaxNegativeHosts), "must be at most resolver.max_hosts (%d)", c.MaxHosts)
	}
	servers := make([]string, 0, len(c.Nameservers))
	for i, s := range c.Nameservers {
		hp, err := parseNameserver(s)
		if err != nil {
			bad(fmt.Sprintf("nameservers[%d]", i), s, "%v", err)
		}
		servers = append(servers, hp)
	}
	c.Nameservers = servers
	hosts := make([]string, 0, len(c.Preresolve))
	for i, h := range c.Preresolve {
		h = strings.ToLower(h)
		if _, ok := parseLiteral(h); !ok && !validHostName(h) {
			bad(fmt.Sprintf("preresolve[%d]", i), h, "not a host name")
		}
		hosts = append(hosts, h)
	}
	if len(hosts) > c.MaxHosts {
		bad("preresolve", "", "%d hosts, more than resolver.max_hosts (%d)", len(hosts), c.MaxHosts)
	}
	c.Preresolve = hosts
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

// parseNameserver turns "ip", "ip:port" or "[ip6]:port" into "ip:port" form
// for net.Dial. Names are refused: resolving the nameserver would need DNS.
func parseNameserver(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("port 0")
		}
		return ap.String(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return "", fmt.Errorf("not an IP address or IP:port")
	}
	return net.JoinHostPort(a.String(), "53"), nil
}
