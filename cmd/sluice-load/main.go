// Command sluice-load is sluice's load generator: it sends HTTP/1.1 requests
// over N keep-alive connections, through a forward proxy (absolute-form
// request-targets) or straight to an origin, optionally pipelined and rate
// limited, and prints throughput, status counts and latency percentiles.
//
//	sluice-load -target 127.0.0.1:3128 -url http://origin.test:8080/small -c 50 -d 10s
//
// It prints a progress line to stderr every second and the summary to stdout.
// Interrupting it (SIGINT, SIGTERM) ends the run early and still prints the
// summary. The load client itself is package bench/loadgen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sluiceproxy/sluice/bench/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes of run.
const (
	exitOK    = 0
	exitRun   = 1 // the run could not start: no connection to the target
	exitUsage = 2 // bad flags
)

// Flag defaults that differ from loadgen's Config defaults.
const (
	defaultConns    = 10
	defaultDuration = 10 * time.Second
)

// headerFlags collects repeated -H values.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// run is the whole command: it parses args, runs the load and writes the
// summary to stdout and progress and errors to stderr, returning the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sluice-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		target   = fs.String("target", "", "`host:port` to connect to: the proxy, or the origin itself (default: the host and port of -url)")
		rawURL   = fs.String("url", "", "`URL` to request, http only, e.g. http://origin.test:8080/small (required)")
		proxy    = fs.Bool("proxy", false, "send absolute-form request-targets, as to a forward proxy (default: true when -target differs from the host and port of -url)")
		conns    = fs.Int("c", defaultConns, "number of concurrent keep-alive `connections`")
		pipeline = fs.Int("pipeline", 1, "requests in flight per connection, written in one batch (1: no pipelining)")
		duration = fs.Duration("d", defaultDuration, "how long to run; 0 runs until -n requests are done or until interrupted. With -n and no -d, 0")
		requests = fs.Int64("n", 0, "total `requests` to send; 0 means no limit")
		rate     = fs.Float64("rate", 0, "total request rate limit in `req/s`, paced across connections; 0 means as fast as possible")
		method   = fs.String("method", "", "request `method` (default GET, or POST when -body-size is set)")
		bodySize = fs.Int("body-size", 0, "send a request body of this many `bytes`, with Content-Length")
		timeout  = fs.Duration("timeout", loadgen.DefaultTimeout, "limit on each dial, write and response wait; a request that exceeds it counts as an error")
		headers  headerFlags
	)
	fs.Var(&headers, "H", "extra request `header` \"Name: value\"; repeatable")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: sluice-load -url URL [-target HOST:PORT] [flags]

Sends HTTP/1.1 load over keep-alive connections, through a forward proxy or
straight to an origin, and prints req/s, MiB/s, errors, status counts,
connections opened and latency percentiles. Progress goes to stderr once a
second; the summary goes to stdout. SIGINT ends the run early.

Examples:
  sluice-load -target 127.0.0.1:3128 -url http://origin.test:8080/small -c 50 -d 30s
  sluice-load -url http://127.0.0.1:8080/ -c 100 -pipeline 8 -n 1000000
  sluice-load -target 127.0.0.1:3128 -url http://origin.test/ -rate 5000 -d 1m

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sluice-load: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run sluice-load -h for usage.")
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	if *rawURL == "" {
		return usage("-url is required")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *bodySize < 0 {
		return usage("-body-size %d is negative", *bodySize)
	}

	cfg := loadgen.Config{
		Target:      *target,
		URL:         *rawURL,
		Proxy:       *proxy,
		Method:      *method,
		Headers:     headers,
		Connections: *conns,
		Pipeline:    *pipeline,
		Duration:    *duration,
		Requests:    *requests,
		Rate:        *rate,
		Timeout:     *timeout,
	}
	if *requests > 0 && !set["d"] {
		cfg.Duration = 0
	}
	if *bodySize > 0 {
		cfg.Body = make([]byte, *bodySize)
		for i := range cfg.Body {
			cfg.Body[i] = 'x'
		}
		if cfg.Method == "" {
			cfg.Method = "POST"
		}
	}
	if !set["proxy"] {
		cfg.Proxy = targetDiffers(*target, *rawURL)
	}
	cfg.Progress = func(s loadgen.Snapshot) {
		fmt.Fprintf(stderr, "%6.0fs  %10.0f req/s  %8.2f MiB/s  errors %d  conns %d\n",
			s.Elapsed.Seconds(), s.ReqPerSec(), s.MiBPerSec(), s.Errors, s.ConnsOpened)
	}

	res, err := loadgen.Run(ctx, cfg)
	if errors.Is(err, loadgen.ErrConfig) {
		return usage("%v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice-load: %v\n", err)
		return exitRun
	}
	printSummary(stdout, &cfg, res)
	return exitOK
}

// targetDiffers reports whether target names another endpoint than the host
// and port of rawURL, which is when requests go through a proxy. An empty
// target, or a URL that does not parse, is "no".
func targetDiffers(target, rawURL string) bool {
	host, port, ok := urlHostPort(rawURL)
	if target == "" || !ok {
		return false
	}
	th, tp, err := net.SplitHostPort(target)
	if err != nil {
		return true
	}
	return !strings.EqualFold(th, host) || tp != port
}

// urlHostPort returns the host and port of an http URL, port 80 if it has none.
func urlHostPort(rawURL string) (host, port string, ok bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", "", false
	}
	port = u.Port()
	if port == "" {
		port = "80"
	}
	return u.Hostname(), port, true
}

// printSummary writes the result of a run.
func printSummary(w io.Writer, cfg *loadgen.Config, res *loadgen.Result) {
	mode := "direct (origin-form)"
	if cfg.Proxy {
		mode = "through a proxy (absolute-form)"
	}
	target := cfg.Target
	if host, port, ok := urlHostPort(cfg.URL); target == "" && ok {
		target = net.JoinHostPort(host, port)
	}
	fmt.Fprintf(w, "%s %s to %s, %s\n", methodOf(cfg), cfg.URL, target, mode)
	fmt.Fprintf(w, "%d connections, pipeline %d, ran %.2fs\n", max(cfg.Connections, 1), max(cfg.Pipeline, 1), res.Elapsed.Seconds())
	fmt.Fprintf(w, "requests     %d  (%.1f req/s, %.2f MiB/s)\n", res.Requests, res.ReqPerSec(), res.MiBPerSec())
	e := res.ErrorsBy
	fmt.Fprintf(w, "errors       %d", res.Errors)
	if res.Errors > 0 {
		fmt.Fprintf(w, "  (dial %d, write %d, read %d, timeout %d, protocol %d)", e.Dial, e.Write, e.Read, e.Timeout, e.Protocol)
	}
	fmt.Fprintln(w)
	if res.FirstError != nil {
		fmt.Fprintf(w, "first error  %v\n", res.FirstError)
	}
	codes := make([]int, 0, len(res.Status))
	for c := range res.Status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	fmt.Fprint(w, "status      ")
	if len(codes) == 0 {
		fmt.Fprint(w, " none")
	}
	for _, c := range codes {
		fmt.Fprintf(w, " %d: %d", c, res.Status[c])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "connections  %d opened\n", res.ConnsOpened)
	fmt.Fprintf(w, "latency      p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n",
		res.Percentile(50), res.Percentile(90), res.Percentile(99), res.Percentile(99.9), res.Max())
}

func methodOf(cfg *loadgen.Config) string {
	if cfg.Method == "" {
		return loadgen.DefaultMethod
	}
	return cfg.Method
}
