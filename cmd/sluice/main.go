// Command sluice runs the sluice dynamic forward proxy.
//
//	sluice [flags]
//
// With no flags it listens on 127.0.0.1:3128, serves /healthz and /readyz on
// 127.0.0.1:9901 and resolves names with the nameservers of /etc/resolv.conf.
// SIGTERM or SIGINT drains it: it stops taking connections, lets requests in
// flight finish within the drain timeout, and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluiceproxy/sluice/accesslog"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/metrics"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil))
}

// options are the command's flags.
type options struct {
	listen, admin, dns, logLevel, rewriteHeader  string
	transparentListen                            string
	engine                                       string
	config, checkConfig, connectPorts, accessLog string
	loops                                        int
	connectTimeout, idleTimeout, drainTimeout    time.Duration
	version                                      bool

	set map[string]bool // the flags given on the command line
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{set: make(map[string]bool)}
	fs := flag.NewFlagSet("sluice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sluice [flags]\n\nsluice is a dynamic forward proxy for HTTP/1.1 egress traffic.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.listen, "listen", proxy.DefaultListen, "`address` the proxy listens on: IP:port, or :port for every address")
	fs.StringVar(&o.transparentListen, "transparent-listen", "", "`address` of the transparent listener, for connections iptables redirects (SO_ORIGINAL_DST); empty: none")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:9901", "`address` of the admin server (/metrics, /healthz, /readyz, /debug/dns, /debug/pprof/, /config); empty disables it")
	fs.StringVar(&o.dns, "dns", "", "nameservers `IP[:PORT][,IP[:PORT]]` to use instead of /etc/resolv.conf's (port 53 if absent)")
	fs.IntVar(&o.loops, "loops", 0, "event loops (`n`); 0 means GOMAXPROCS")
	fs.StringVar(&o.engine, "engine", proxy.DefaultEngine, "event-loop `library`: gnet or netpoll")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&o.rewriteHeader, "rewrite-header", "", "request header whose first value becomes the destination and Host (`name`)")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", proxy.DefaultConnectTimeout, "upstream connect `timeout`")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", proxy.DefaultIdleTimeout, "client keep-alive idle `timeout`")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", proxy.DefaultDrainTimeout, "time given to requests in flight on SIGTERM (`duration`)")
	fs.StringVar(&o.connectPorts, "connect-ports", "443", "ports CONNECT may reach: `list` of ports and ranges (\"443,8443,9000-9100\") or \"*\"")
	fs.StringVar(&o.accessLog, "access-log", "-", "access log `path`: - for stdout, empty for off; reopened on SIGHUP (logrotate)")
	fs.StringVar(&o.config, "config", "", "YAML config `file` (examples/sluice.yaml documents it); flags given override it")
	fs.StringVar(&o.checkConfig, "check-config", "", "validate the config `file`, print the verdict, exit 0 (valid) or 1")
	fs.BoolVar(&o.version, "version", false, "print the version, commit and Go version, then exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return o, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// run is the whole command: -version writes to stdout, everything else to
// stderr. ready, if not nil, receives the proxy and admin addresses once
// both listen (for tests). It returns the exit code.
func run(args []string, stdout, stderr io.Writer, ready func(proxy, admin string)) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	if o.checkConfig != "" {
		return checkConfigFile(o.checkConfig, stderr)
	}
	c := &fileConfig{}
	if o.config != "" {
		if c, err = loadConfigFile(o.config); err != nil {
			printError(stderr, err)
			return 2
		}
	}
	c.applyFlags(o, o.set)
	if err := c.validate(); err != nil {
		printError(stderr, err)
		return 2
	}
	level := new(slog.LevelVar) // a reload may change it
	level.Set(c.logLevel())
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	stores := &rateStore{log: log}
	defer stores.stop() // after the drain
	pol, swap, err := stores.compile(c.policyConfig())
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 2
	}
	swap.commit()
	rcfg := c.resolverConfig()
	rcfg.Logger = log
	res, err := resolver.New(rcfg)
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 2
	}
	if err := res.Start(); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 1
	}
	defer res.Stop()

	ecfg := c.engineConfig()
	ecfg.Logger = log
	ecfg.Policy = pol
	ecfg.Cache = c.cacheStore()
	ecfg.CacheLockTimeout = c.Cache.LockTimeout
	ecfg.Compress, _ = c.Compress.compressor() // checked when the file was loaded
	ecfg.TLSOrigination, _ = c.TLS.origination()
	drainTimeout := ecfg.DrainTimeout
	if drainTimeout == 0 {
		drainTimeout = proxy.DefaultDrainTimeout
	}
	alog, err := accesslog.Open(c.accessLogPath(), accesslog.Options{ErrorLog: log})
	if err != nil {
		fmt.Fprintln(stderr, "sluice: -access-log:", err)
		return 1
	}
	defer alog.Close() // after the drain: tunnels report when they end
	var srv *engine.Server
	rl := &reloader{path: o.config, opts: o, reopen: alog.Reopen, level: level, log: log, current: c, stores: stores}
	sources := metrics.Sources{
		Conns:          func() (int64, int64) { return srv.Conns() },
		Counters:       func() engine.Counters { return srv.Counters() },
		DNS:            res.Stats,
		AccessLogDrops: alog.Drops,
		Reloads:        func() (uint64, uint64) { return rl.ok.Load(), rl.failed.Load() },
		RateLimitStore: stores.stats,
	}
	if ecfg.Cache != nil {
		sources.Cache = ecfg.Cache.Stats
	}
	met := metrics.New(sources)
	ecfg.Observer = metrics.NewMulti(alog, met)
	// The admin listener binds first, so that the proxy knows its address
	// and refuses requests to it like requests to itself.
	adminAddr := ""
	var admin *http.Server
	var adminLn net.Listener
	if a := c.adminAddr(); a != "" {
		adminLn, err = net.Listen("tcp", a)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: -admin: %v\n", err)
			return 1
		}
		defer adminLn.Close()
		adminAddr = adminLn.Addr().String()
		ecfg.Protected = append(ecfg.Protected, adminLn.Addr().(*net.TCPAddr).AddrPort())
		admin = &http.Server{
			ReadHeaderTimeout: adminReadHeaderTimeout,
			ReadTimeout:       adminReadTimeout,
			IdleTimeout:       adminIdleTimeout,
		}
	}
	srv, err = engine.NewServer(ecfg, res)
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 2
	}
	// What /config shows, taken before Start raises GOMAXPROCS (the
	// default auth workers depend on it).
	engineCfg := srv.Config()
	rl.srv = srv
	rl.effective = func(c *fileConfig, p *policy.Policy) *fileConfig {
		eff := c.effective(engineCfg, p.Realm())
		eff.Listen, eff.Admin = srv.Addr().String(), &adminAddr // as bound: a port 0 shows the kernel's choice
		return eff
	}
	eff := c.effective(engineCfg, pol.Realm())
	if err := srv.Start(); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return 1
	}
	eff.Listen, eff.Admin = srv.Addr().String(), &adminAddr // as bound: a port 0 shows the kernel's choice
	rl.inForce.Store(&configInForce{cfg: eff, loaded: time.Now()})

	var terminating atomic.Bool // SIGTERM seen: /readyz fails from now on
	if admin != nil {
		lim := &limitListener{Listener: adminLn, max: adminMaxConns, fds: srv.FDs()}
		deps := newAdminDeps(srv, res, met, func() any { return rl.inForce.Load().cfg })
		deps.Ready = readiness(readyInputs{
			srv: srv, resolverReady: res.Ready(), terminating: &terminating,
			started: time.Now(), preresolveWait: preresolveWait(c),
		})
		deps.Live = liveness(srv)
		deps.Cache = ecfg.Cache
		deps.ConfigLoaded = func() time.Time { return rl.inForce.Load().loaded }
		deps.Reload = func() error { return rl.reload("POST /reload") }
		admin.Handler = adminMux(deps)
		go func() { _ = admin.Serve(lim) }()
	}
	ver, rev := buildVersion()
	log.Info("sluice listening", "proxy", srv.Addr().String(), "admin", adminAddr, "version", ver, "commit", rev)
	if ready != nil {
		ready(srv.Addr().String(), adminAddr)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				// Re-read the config file, and reopen the access log
				// (logrotate moved it): both are what SIGHUP means.
				_ = rl.reload("SIGHUP")
				continue
			}
			terminating.Store(true)
			rl.mu.Lock()
			delay := rl.current.Drain.PreStopDelay
			rl.mu.Unlock()
			if delay > 0 {
				// /readyz fails already; keep accepting while endpoints
				// are updated, then drain.
				log.Info("pre-stop delay: still accepting", "signal", sig.String(), "delay", delay.String())
				select {
				case <-time.After(delay):
				case <-srv.Done():
				}
			}
			return drain(srv, admin, log, sig, drainTimeout)
		case <-srv.Done():
			log.Error("engine stopped", "err", srv.Err())
			return 1
		}
	}
}

// preresolveWait bounds how long /readyz waits for the preresolve hosts: two
// DNS query timeouts, at least 10 s.
func preresolveWait(c *fileConfig) time.Duration {
	return max(10*time.Second, 2*c.effectiveResolver().QueryTimeout)
}

// drain shuts the proxy down gracefully on sig and returns the exit code.
func drain(srv *engine.Server, admin *http.Server, log *slog.Logger, sig os.Signal, timeout time.Duration) int {
	{
		log.Info("draining", "signal", sig.String(), "timeout", timeout.String())
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := srv.Shutdown(ctx)
		cancel()
		if admin != nil {
			_ = admin.Close()
		}
		if err != nil {
			// ErrDrainTimeout says how many connections were cut.
			log.Warn("drain incomplete: connections cut", "err", err)
		}
		log.Info("stopped")
		return 0
	}
}
