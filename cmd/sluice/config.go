package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.yaml.in/yaml/v3"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/internal/fielderr"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// defaultAdmin is the admin listener of a config that names none.
const defaultAdmin = "127.0.0.1:9901"

// fileConfig is the config file (-config FILE), YAML: the components' own
// config structs, whose yaml tags are the file's keys, and the settings only
// the command has. Every section and field is optional and its zero value
// means the default of the component it configures; examples/sluice.yaml
// documents them all. Unknown fields are errors. loadConfigFile decodes and
// validates it; each component validates its own part.
type fileConfig struct {
	engine.Settings `yaml:",inline"` // listen, loops, engine, rewrite_header, timeouts:, limits:

	Admin     *string         `yaml:"admin"`      // admin address; "" disables; absent: defaultAdmin
	LogLevel  string          `yaml:"log_level"`  // debug, info (default), warn, error
	AccessLog *string         `yaml:"access_log"` // access log path: "-" stdout, "" off; absent: "-"
	Resolver  resolver.Config `yaml:"resolver"`
	Policy    policy.Config   `yaml:"policy"`
	Drain     drainConfig     `yaml:"drain"`
	Cache     cacheConfig     `yaml:"cache"`
	Compress  compressConfig  `yaml:"compression"`

	TLS tlsOriginationConfig `yaml:"tls_origination"` // tlsconfig.go

	// Set by loadConfigFile, for messages.
	file string
	root *yaml.Node // the document's top mapping
}

// drainConfig is the `drain:` section: what SIGTERM does before the drain
// (timeouts.drain bounds the drain itself).
type drainConfig struct {
	// PreStopDelay keeps the listener accepting this long after SIGTERM
	// while /readyz already fails, so that a Kubernetes Service stops
	// sending new connections before sluice stops taking them. Default 0.
	PreStopDelay time.Duration `yaml:"pre_stop_delay"`
}

// cacheConfig is the `cache:` section: the response cache, off unless
// max_bytes is set.
type cacheConfig struct {
	// MaxBytes is the memory for stored responses (fastcache, bounded; at
	// least 32 MiB, its smallest). 0 turns the cache off.
	MaxBytes int `yaml:"max_bytes"`
	// MaxObjectBytes is the largest response stored (head and body);
	// default defaultMaxObject, at most a quarter of max_bytes.
	MaxObjectBytes int `yaml:"max_object_bytes"`
	// LockTimeout bounds how long a miss waits for a concurrent request
	// for the same URL to bring the response (collapsed forwarding);
	// default proxy.DefaultCacheLockTimeout.
	LockTimeout time.Duration `yaml:"lock_timeout"`
}

// compressConfig is the `compression:` section: responses compressed for
// clients that accept gzip or zstd, off unless enabled.
type compressConfig struct {
	Enabled bool `yaml:"enabled"`
	// Codings offered, in order of preference; default zstd, gzip.
	Codings []string `yaml:"codings"`
	// Types are the media types compressed (type/subtype, type/*, or a
	// +suffix); default compression.DefaultTypes.
	Types []string `yaml:"types"`
	// MinLength is the shortest body (of known length) compressed;
	// default compression.DefaultMinLength.
	MinLength int `yaml:"min_length"`
	// GzipLevel is gzip's level, 1-9; default 6.
	GzipLevel int `yaml:"gzip_level"`
	// ZstdLevel is zstd's: fastest, default, better or best.
	ZstdLevel string `yaml:"zstd_level"`
	// LoopMax: bodies of known length up to this are compressed on the
	// event loop, others off it; default compression.DefaultLoopMax.
	LoopMax int `yaml:"loop_max"`
}

// compressor is the compression the section asks for, or nil; err names
// the bad field.
func (c compressConfig) compressor() (*compression.Compressor, *configField) {
	if !c.Enabled {
		return nil, nil
	}
	levels := compression.DefaultLevels
	if c.GzipLevel != 0 {
		if c.GzipLevel < 1 || c.GzipLevel > 9 {
			return nil, &configField{"compression.gzip_level", strconv.Itoa(c.GzipLevel), errors.New("must be 1 (fastest) to 9 (smallest)")}
		}
		levels.Gzip = c.GzipLevel
	}
	if c.ZstdLevel != "" {
		ok, l := zstd.EncoderLevelFromString(c.ZstdLevel)
		if !ok {
			return nil, &configField{"compression.zstd_level", c.ZstdLevel, errors.New("want fastest, default, better or best")}
		}
		levels.Zstd = l
	}
	var z compression.Compressor
	for i, name := range c.Codings {
		var cd compression.Coding
		switch strings.ToLower(name) {
		case "gzip":
			cd = compression.Gzip
		case "zstd":
			cd = compression.Zstd
		default:
			return nil, &configField{fmt.Sprintf("compression.codings[%d]", i), name, errors.New("want gzip or zstd")}
		}
		if slices.Contains(z.Offered, cd) {
			return nil, &configField{fmt.Sprintf("compression.codings[%d]", i), name, errors.New("listed twice")}
		}
		z.Offered = append(z.Offered, cd)
	}
	for i, t := range c.Types {
		if t == "" || t[0] != '+' && !strings.Contains(t, "/") {
			return nil, &configField{fmt.Sprintf("compression.types[%d]", i), t, errors.New("want type/subtype, type/* or +suffix")}
		}
	}
	if len(c.Types) > 0 {
		z.Policy.Types = c.Types
	}
	if c.MinLength < 0 {
		return nil, &configField{"compression.min_length", strconv.Itoa(c.MinLength), errors.New("is negative")}
	}
	if c.LoopMax < 0 {
		return nil, &configField{"compression.loop_max", strconv.Itoa(c.LoopMax), errors.New("is negative")}
	}
	z.Policy.MinLength, z.LoopMax = int64(c.MinLength), c.LoopMax
	out, err := compression.NewCompressor(z, levels)
	if err != nil {
		return nil, &configField{"compression", "", err}
	}
	return out, nil
}

// configField is a bad field of a section that validates itself.
type configField struct {
	name, value string
	err         error
}

// Cache section limits.
const (
	minCacheBytes    = 32 << 20
	defaultMaxObject = 1 << 20
)

// maxObject is max_object_bytes with its default.
func (c cacheConfig) maxObject() int {
	if c.MaxObjectBytes == 0 {
		return defaultMaxObject
	}
	return c.MaxObjectBytes
}

// configError is an error in a config file: the file, the line, the field
// (its path, "timeouts.connect", "policy.rules[2].hosts[0]"), the bad value
// and what is wrong.
type configError struct {
	file  string
	line  int    // 0: unknown
	field string // "" when err names it
	value string // "" when err names it
	err   error
	cause error // what Unwrap returns, if not err: a component's error
}

// Error returns `file:line: field: "value": reason`.
func (e *configError) Error() string {
	var b strings.Builder
	if e.file == "" {
		b.WriteString("flags") // no config file: the values came from flags
	}
	b.WriteString(e.file)
	if e.line > 0 {
		b.WriteString(":" + strconv.Itoa(e.line))
	}
	b.WriteString(": ")
	if e.field != "" {
		b.WriteString(e.field + ": ")
	}
	if e.value != "" {
		b.WriteString(strconv.Quote(e.value) + ": ")
	}
	b.WriteString(e.err.Error())
	return b.String()
}

func (e *configError) Unwrap() error {
	if e.cause != nil {
		return e.cause
	}
	return e.err
}

// configErrors are every error of a config file, by line.
type configErrors []*configError

// Error returns the errors, one a line.
func (e configErrors) Error() string {
	s := make([]string, len(e))
	for i, ce := range e {
		s[i] = ce.Error()
	}
	return strings.Join(s, "\n")
}

func (e configErrors) Unwrap() []error {
	out := make([]error, len(e))
	for i, ce := range e {
		out[i] = ce
	}
	return out
}

// printError writes err on w, each line prefixed "sluice: ".
func printError(w io.Writer, err error) {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintln(w, "sluice:", line)
	}
}

// loadConfigFile reads, decodes and validates the config file at path. A
// relative policy.auth.htpasswd or tls_origination.ca_file is taken
// relative to the file's directory.
// The error is configErrors, every error of the file with its line, field
// and value.
func loadConfigFile(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &fileConfig{file: path}
	errs, parsed := c.decode(data)
	if a := c.Policy.Auth; a != nil && a.Htpasswd != "" && !filepath.IsAbs(a.Htpasswd) {
		a.Htpasswd = filepath.Join(filepath.Dir(path), a.Htpasswd)
	}
	if f := c.TLS.CAFile; f != "" && !filepath.IsAbs(f) {
		c.TLS.CAFile = filepath.Join(filepath.Dir(path), f)
	}
	if parsed { // also the values of the fields that decoded
		errs = append(errs, c.check(errs)...)
	}
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	return c, nil
}

// decode parses data and decodes it into c strictly (decoder). parsed is
// false if data is not one YAML document.
func (c *fileConfig) decode(data []byte) (errs configErrors, parsed bool) {
	c.root = &yaml.Node{Kind: yaml.MappingNode} // an empty file: all defaults
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		return configErrors{{file: c.file, err: err}}, false
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return configErrors{{file: c.file, line: more.Line, err: errors.New("more than one YAML document")}}, false
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, true
	}
	c.root = root
	d := &decoder{file: c.file}
	d.decode(root, reflect.ValueOf(c).Elem(), "", 0)
	return d.errs, true
}

// sortErrors sorts errs by line, keeping the order of one line's errors.
func sortErrors(errs configErrors) configErrors {
	slices.SortStableFunc(errs, func(a, b *configError) int { return cmp.Compare(a.line, b.line) })
	return errs
}

// validate checks the values of c (decoded, flags applied): see check.
func (c *fileConfig) validate() error {
	if errs := c.check(nil); len(errs) > 0 {
		return sortErrors(errs)
	}
	return nil
}

// check returns every error in the values of c: the command's own settings,
// then each component's Validate, their errors placed at their keys' lines.
// An error at or under a field that failed to decode (decodeErrs) is left
// out: that field holds its default, not what the file says.
func (c *fileConfig) check(decodeErrs configErrors) configErrors {
	var errs configErrors
	add := func(field, value string, err error) {
		for _, d := range decodeErrs {
			if field == d.field || strings.HasPrefix(field, d.field+".") || strings.HasPrefix(field, d.field+"[") {
				return
			}
		}
		ce := &configError{file: c.file, line: lineOf(c.root, field), field: field, value: value, err: err}
		var fe *fielderr.Error
		if errors.As(err, &fe) { // callers may look for the component's error
			ce.err, ce.cause = errors.New(fe.Reason), fe
		}
		errs = append(errs, ce)
	}
	if c.LogLevel != "" {
		if _, err := parseLevel(c.LogLevel); err != nil {
			add("log_level", c.LogLevel, errors.New("want debug, info, warn or error"))
		}
	}
	if c.Admin != nil && *c.Admin != "" {
		if err := checkHostPort(*c.Admin); err != nil {
			add("admin", *c.Admin, err)
		}
	}
	if c.RewriteHeader != "" && c.Policy.RewriteHeader != "" && c.RewriteHeader != c.Policy.RewriteHeader {
		add("policy.rewrite_header", c.Policy.RewriteHeader, fmt.Errorf("differs from rewrite_header %q: set one of them", c.RewriteHeader))
	}
	if c.Drain.PreStopDelay < 0 {
		add("drain.pre_stop_delay", c.Drain.PreStopDelay.String(), errors.New("is negative"))
	}
	if mb := c.Cache.MaxBytes; mb != 0 && mb < minCacheBytes {
		add("cache.max_bytes", strconv.Itoa(mb), fmt.Errorf("must be 0 (off) or at least %d (32 MiB)", minCacheBytes))
	}
	if mo := c.Cache.MaxObjectBytes; mo < 0 || c.Cache.MaxBytes > 0 && c.Cache.maxObject() > c.Cache.MaxBytes/4 {
		add("cache.max_object_bytes", strconv.Itoa(mo), fmt.Errorf("must be 1 to a quarter of cache.max_bytes (%d)", c.Cache.MaxBytes/4))
	}
	if _, f := c.Compress.compressor(); f != nil {
		add(f.name, f.value, f.err)
	}
	if _, fs := c.TLS.origination(); fs != nil {
		for _, f := range fs {
			add(f.name, f.value, f.err)
		}
	}
	if c.Cache.LockTimeout < 0 {
		add("cache.lock_timeout", c.Cache.LockTimeout.String(), errors.New("is negative"))
	}
	// The components: each names its fields by their keys in the file, with
	// one error type (internal/fielderr).
	addAll := func(err error) {
		var l fielderr.List
		if errors.As(err, &l) {
			for _, e := range l {
				add(e.Field, e.Value, e)
			}
		}
	}
	addAll(c.Settings.Validate())
	addAll(c.Resolver.Validate())
	_, err := policy.Compile(c.policyConfig())
	addAll(err)
	if len(errs) == 0 && len(decodeErrs) == 0 {
		// What only New finds: an unreadable resolv_conf. New starts nothing.
		_, err := resolver.New(c.resolverConfig())
		addAll(err)
	}
	return errs
}

// checkHostPort checks a listen address for net.Listen: host:port with a
// numeric port.
func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("want a port number 0-65535")
	}
	return nil
}

// engineConfig is the engine's configuration from the file, with the
// global rewrite header. Logger and the rest are left to the caller.
func (c *fileConfig) engineConfig() engine.Config {
	s := c.Settings
	s.RewriteHeader = c.rewriteHeader()
	return s.Config()
}

// cacheStore is the response cache the cache section asks for, or nil.
func (c *fileConfig) cacheStore() *cache.Store {
	if c.Cache.MaxBytes == 0 {
		return nil
	}
	return cache.NewStore(c.Cache.MaxBytes, c.Cache.maxObject())
}

// resolverConfig is the resolver's configuration from the file.
func (c *fileConfig) resolverConfig() resolver.Config { return c.Resolver }

// policyConfig is the policy section, with the global rewrite header
// (rewrite_header or policy.rewrite_header, which validate keeps from
// disagreeing) filled in.
func (c *fileConfig) policyConfig() policy.Config {
	p := c.Policy
	p.RewriteHeader = c.rewriteHeader()
	return p
}

// rewriteHeader is the global rewrite header: rewrite_header, else
// policy.rewrite_header.
func (c *fileConfig) rewriteHeader() string {
	if c.RewriteHeader != "" {
		return c.RewriteHeader
	}
	return c.Policy.RewriteHeader
}

// accessLogPath is the access log's destination: "-" (stdout) unless set.
func (c *fileConfig) accessLogPath() string {
	if c.AccessLog == nil {
		return "-"
	}
	return *c.AccessLog
}

// adminAddr is the admin listener's address, "" if disabled.
func (c *fileConfig) adminAddr() string {
	if c.Admin == nil {
		return defaultAdmin
	}
	return *c.Admin
}

// logLevel is the configured log level (validated by loadConfigFile).
func (c *fileConfig) logLevel() slog.Level {
	l, _ := parseLevel(c.LogLevel)
	if c.LogLevel == "" {
		l = slog.LevelInfo
	}
	return l
}

// applyFlags overrides the file with the flags given on the command line
// (flags win): set holds the names of the flags given (flag.FlagSet.Visit).
func (c *fileConfig) applyFlags(o *options, set map[string]bool) {
	if set["listen"] {
		c.Listen = o.listen
	}
	if set["transparent-listen"] {
		c.TransparentListen = o.transparentListen
	}
	if set["admin"] {
		c.Admin = &o.admin
	}
	if set["dns"] {
		c.Resolver.Nameservers = nil
		for ns := range strings.SplitSeq(o.dns, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				c.Resolver.Nameservers = append(c.Resolver.Nameservers, ns)
			}
		}
	}
	if set["loops"] {
		c.Loops = o.loops
	}
	if set["engine"] {
		c.Engine = o.engine
	}
	if set["log-level"] {
		c.LogLevel = o.logLevel
	}
	if set["rewrite-header"] {
		c.RewriteHeader, c.Policy.RewriteHeader = o.rewriteHeader, ""
	}
	if set["connect-timeout"] {
		c.Timeouts.Connect = o.connectTimeout
	}
	if set["idle-timeout"] {
		c.Timeouts.Idle = o.idleTimeout
	}
	if set["drain-timeout"] {
		c.Timeouts.Drain = o.drainTimeout
	}
	if set["access-log"] {
		c.AccessLog = &o.accessLog
	}
	if set["connect-ports"] {
		c.Policy.ConnectPorts = o.connectPorts
	}
}

// checkConfigFile is -check-config: it loads and validates the file at path,
// and checks what would fail at start: the access log's directory must
// exist; a listen or admin address already in use is a warning (the
// process holding it may be the one this file will replace). It reports on
// w and returns the exit code, 0 if valid, else 1.
func checkConfigFile(path string, w io.Writer) int {
	c, err := loadConfigFile(path)
	if err != nil {
		printError(w, err)
		return 1
	}
	at := func(field, value string, err error) *configError {
		return &configError{file: c.file, line: lineOf(c.root, field), field: field, value: value, err: err}
	}
	if p := c.accessLogPath(); p != "-" && p != "" {
		if fi, err := os.Stat(filepath.Dir(p)); err != nil || !fi.IsDir() {
			printError(w, at("access_log", p, fmt.Errorf("directory %s does not exist", filepath.Dir(p))))
			return 1
		}
	}
	for _, a := range []struct{ field, addr string }{
		{"listen", cmp.Or(c.Listen, proxy.DefaultListen)}, {"admin", c.adminAddr()},
	} {
		if a.addr == "" || strings.HasSuffix(a.addr, ":0") {
			continue
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			fmt.Fprintln(w, "sluice: warning:", at(a.field, a.addr, fmt.Errorf("cannot listen now: %v", err)))
			continue
		}
		ln.Close()
	}
	fmt.Fprintf(w, "sluice: %s: configuration valid\n", path)
	return 0
}
