package engine

import (
	"time"

	"github.com/sluiceproxy/sluice/parser"
)

// Settings are the engine's part of sluice's config file: listen, loops, engine and
// rewrite_header at its top, and the timeouts: and limits: sections. The
// yaml tags are the file's keys. The zero value of every field means the
// default of the Config field it sets (Config documents them); Config turns
// Settings into a Config, Check names the bad keys of one.
type Settings struct {
	Listen string `yaml:"listen"` // proxy address, IP:port or :port (every address)
	// TransparentListen is the listener for connections redirected by
	// iptables (Config.TransparentListen); empty: none.
	TransparentListen string   `yaml:"transparent_listen"`
	Loops             int      `yaml:"loops"`          // event loops; 0: GOMAXPROCS
	Engine            string   `yaml:"engine"`         // gnet or netpoll; empty: proxy.DefaultEngine
	RewriteHeader     string   `yaml:"rewrite_header"` // the global host-rewrite header
	Timeouts          Timeouts `yaml:"timeouts"`
	Limits            Limits   `yaml:"limits"`
}

// Timeouts is the `timeouts:` section of the config file.
type Timeouts struct {
	Connect      time.Duration `yaml:"connect"`       // Config.ConnectTimeout
	ConnectTotal time.Duration `yaml:"connect_total"` // Config.ConnectTotalTimeout
	Head         time.Duration `yaml:"head"`          // Config.HeadTimeout
	Idle         time.Duration `yaml:"idle"`          // Config.IdleTimeout
	Response     time.Duration `yaml:"response"`      // Config.ResponseTimeout
	UpstreamIdle time.Duration `yaml:"upstream_idle"` // Config.UpstreamIdle
	Drain        time.Duration `yaml:"drain"`         // Config.DrainTimeout
	// HappyEyeballs is Config.HappyEyeballsDelay.
	HappyEyeballs time.Duration `yaml:"happy_eyeballs"`
}

// Limits is the `limits:` section of the config file.
type Limits struct {
	MaxConns           int `yaml:"max_conns"`
	MaxConnectAttempts int `yaml:"max_connect_attempts"`
	MaxConnsPerHost    int `yaml:"max_conns_per_host"`
	MaxIdlePerHost     int `yaml:"max_idle_per_host"`
	MaxBuffered        int `yaml:"max_buffered"`
	StreamThreshold    int `yaml:"stream_threshold"`
	StreamHighWater    int `yaml:"stream_high_water"`
	SpliceAbove        int `yaml:"splice_above"`
	MaxRequestLine     int `yaml:"max_request_line"` // parser.Limits
	MaxHeadBytes       int `yaml:"max_head_bytes"`   // parser.Limits
	MaxHeaders         int `yaml:"max_headers"`      // parser.Limits
}

// Config returns the engine configuration s describes; the caller adds
// what the file does not hold (Policy, Logger, Observer, ...).
func (s Settings) Config() Config {
	t, l := s.Timeouts, s.Limits
	return Config{
		Listen:            s.Listen,
		TransparentListen: s.TransparentListen,
		Loops:             s.Loops,
		Engine:            s.Engine,
		RewriteHeader:     s.RewriteHeader,
		Limits: parser.Limits{
			MaxRequestLine: l.MaxRequestLine,
			MaxHeadBytes:   l.MaxHeadBytes,
			MaxHeaders:     l.MaxHeaders,
		},
		ConnectTimeout:      t.Connect,
		HappyEyeballsDelay:  t.HappyEyeballs,
		ConnectTotalTimeout: t.ConnectTotal,
		MaxConnectAttempts:  l.MaxConnectAttempts,
		HeadTimeout:         t.Head,
		IdleTimeout:         t.Idle,
		ResponseTimeout:     t.Response,
		UpstreamIdle:        t.UpstreamIdle,
		DrainTimeout:        t.Drain,
		MaxIdlePerHost:      l.MaxIdlePerHost,
		MaxConnsPerHost:     l.MaxConnsPerHost,
		MaxConns:            l.MaxConns,
		MaxBuffered:         l.MaxBuffered,
		StreamThreshold:     l.StreamThreshold,
		StreamHighWater:     l.StreamHighWater,
		SpliceAbove:         l.SpliceAbove,
	}
}

// Validate checks s and returns every error (ConfigErrors, nil if none),
// each naming the file's key: Config().Check().
func (s Settings) Validate() error { return s.Config().Check() }

// SettingsOf returns the Settings of cfg, the configuration of a Server
// (Server.Config: every default filled in), with the parser's defaults for
// the head limits it leaves zero. /config shows it.
func SettingsOf(cfg Config) Settings {
	orDefault := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	return Settings{
		Listen:            cfg.Listen,
		TransparentListen: cfg.TransparentListen,
		Loops:             cfg.Loops,
		Engine:            cfg.Engine,
		RewriteHeader:     cfg.RewriteHeader,
		Timeouts: Timeouts{
			Connect:       cfg.ConnectTimeout,
			HappyEyeballs: cfg.HappyEyeballsDelay,
			ConnectTotal:  cfg.ConnectTotalTimeout,
			Head:          cfg.HeadTimeout,
			Idle:          cfg.IdleTimeout,
			Response:      cfg.ResponseTimeout,
			UpstreamIdle:  cfg.UpstreamIdle,
			Drain:         cfg.DrainTimeout,
		},
		Limits: Limits{
			MaxConns:           cfg.MaxConns,
			MaxConnectAttempts: cfg.MaxConnectAttempts,
			MaxConnsPerHost:    cfg.MaxConnsPerHost,
			MaxIdlePerHost:     cfg.MaxIdlePerHost,
			MaxBuffered:        cfg.MaxBuffered,
			StreamThreshold:    cfg.StreamThreshold,
			StreamHighWater:    cfg.StreamHighWater,
			SpliceAbove:        cfg.SpliceAbove,
			MaxRequestLine:     orDefault(cfg.Limits.MaxRequestLine, parser.DefaultMaxRequestLine),
			MaxHeadBytes:       orDefault(cfg.Limits.MaxHeadBytes, parser.DefaultMaxHeadBytes),
			MaxHeaders:         orDefault(cfg.Limits.MaxHeaders, parser.DefaultMaxHeaders),
		},
	}
}
