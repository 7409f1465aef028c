package main

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/resolver"
)

// defaultAdmin is the admin listener of a config that names none.
const defaultAdmin = "127.0.0.1:9901"

// fileConfig is the config file (-config FILE), YAML. Every section and field
// is optional and its zero value means the default of the component it
// configures; examples/sluice.yaml documents them all. Unknown fields are
// errors. It is loaded and validated by loadConfigFile, then turned into the
// components' configurations by engineConfig, resolverConfig and
// policyConfig.
type fileConfig struct {
	Listen        string         `yaml:"listen"`         // proxy address, IP:port or :port (every address)
	Admin         *string        `yaml:"admin"`          // admin address; "" disables; absent: defaultAdmin
	Loops         int            `yaml:"loops"`          // event loops; 0: GOMAXPROCS
	LogLevel      string         `yaml:"log_level"`      // debug, info (default), warn, error
	AccessLog     *string        `yaml:"access_log"`     // access log path: "-" stdout, "" off; absent: "-"
	RewriteHeader string         `yaml:"rewrite_header"` // the global host-rewrite header
	Timeouts      timeoutsConfig `yaml:"timeouts"`
	Limits        limitsConfig   `yaml:"limits"`
	Resolver      resolverConfig `yaml:"resolver"`
	Policy        policy.Config  `yaml:"policy"`
	Drain         drainConfig    `yaml:"drain"`

	// Set by loadConfigFile, for messages.
	file string
	root *yaml.Node // the document's top mapping
}

// timeoutsConfig is the `timeouts:` section: Go duration strings ("5s").
type timeoutsConfig struct {
	Connect      time.Duration `yaml:"connect"`
	ConnectTotal time.Duration `yaml:"connect_total"`
	Head         time.Duration `yaml:"head"`
	Idle         time.Duration `yaml:"idle"`
	Response     time.Duration `yaml:"response"`
	UpstreamIdle time.Duration `yaml:"upstream_idle"`
	Drain        time.Duration `yaml:"drain"`
}

// drainConfig is the `drain:` section: what SIGTERM does before the drain
// (timeouts.drain bounds the drain itself).
type drainConfig struct {
	// PreStopDelay keeps the listener accepting this long after SIGTERM
	// while /readyz already fails, so that a Kubernetes Service stops
	// sending new connections before sluice stops taking them. Default 0.
	PreStopDelay time.Duration `yaml:"pre_stop_delay"`
}

// limitsConfig is the `limits:` section.
type limitsConfig struct {
	MaxConns        int `yaml:"max_conns"`
	MaxConnectTries int `yaml:"max_connect_attempts"`
	MaxConnsPerHost int `yaml:"max_conns_per_host"`
	MaxIdlePerHost  int `yaml:"max_idle_per_host"`
	MaxBuffered     int `yaml:"max_buffered"`
	StreamThreshold int `yaml:"stream_threshold"`
	StreamHighWater int `yaml:"stream_high_water"`
	SpliceAbove     int `yaml:"splice_above"`
	MaxRequestLine  int `yaml:"max_request_line"`
	MaxHeadBytes    int `yaml:"max_head_bytes"`
	MaxHeaders      int `yaml:"max_headers"`
}

// resolverConfig is the `resolver:` section (resolver.Config, in snake_case).
type resolverConfig struct {
	Nameservers        []string        `yaml:"nameservers"`
	ResolvConf         string          `yaml:"resolv_conf"`
	HostsFile          string          `yaml:"hosts_file"`
	Family             resolver.Family `yaml:"family"`
	MinTTL             time.Duration   `yaml:"min_ttl"`
	MaxTTL             time.Duration   `yaml:"max_ttl"`
	HostTTL            time.Duration   `yaml:"host_ttl"`
	MaxHosts           int             `yaml:"max_hosts"`
	MaxNegativeHosts   int             `yaml:"max_negative_hosts"`
	MaxPending         int             `yaml:"max_pending"`
	QueryTimeout       time.Duration   `yaml:"query_timeout"`
	Preresolve         []string        `yaml:"preresolve"`
	Workers            int             `yaml:"workers"`
	FailureBackoffBase time.Duration   `yaml:"failure_backoff_base"`
	FailureBackoffMax  time.Duration   `yaml:"failure_backoff_max"`
	MaxStale           time.Duration   `yaml:"max_stale"`
	CacheFile          string          `yaml:"cache_file"`
	CacheFileInterval  time.Duration   `yaml:"cache_file_interval"`
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

func (e *configError) Unwrap() error { return e.err }

// loadConfigFile reads, decodes and validates the config file at path. A
// relative policy.auth.htpasswd is taken relative to the file's directory.
// Errors are *configError naming the file, line, field and value.
func loadConfigFile(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &fileConfig{file: path}
	if err := c.decode(data); err != nil {
		return nil, err
	}
	if a := c.Policy.Auth; a != nil && a.Htpasswd != "" && !filepath.IsAbs(a.Htpasswd) {
		a.Htpasswd = filepath.Join(filepath.Dir(path), a.Htpasswd)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decode parses data into c: first into a yaml.Node tree, whose shape is
// checked against fileConfig field by field (so that every error has its
// field path and line), then into c with unknown fields refused.
func (c *fileConfig) decode(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty file: all defaults
			c.root = &yaml.Node{Kind: yaml.MappingNode}
			return nil
		}
		return &configError{file: c.file, err: err}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return &configError{file: c.file, line: more.Line, err: errors.New("more than one YAML document")}
	}
	c.root = &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		c.root = doc.Content[0]
	}
	if c.root.Kind == yaml.ScalarNode && c.root.Tag == "!!null" {
		c.root = &yaml.Node{Kind: yaml.MappingNode}
		return nil
	}
	if err := c.checkShape(c.root, reflect.TypeFor[fileConfig](), "", 0); err != nil {
		return err
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(c); err != nil { // checkShape should have caught it
		return &configError{file: c.file, err: err}
	}
	return nil
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkShape checks that node n can be decoded into a value of type t: known
// fields only, no duplicate keys, lists where lists go, and every scalar
// valid for its type (durations, numbers, enumerations with
// UnmarshalText). path names n in messages.
func (c *fileConfig) checkShape(n *yaml.Node, t reflect.Type, path string, depth int) error {
	if depth > 64 {
		return c.errAt(n, path, "", errors.New("nested too deeply"))
	}
	if n.Kind == yaml.AliasNode {
		return c.checkShape(n.Alias, t, path, depth+1)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // the zero value
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			return c.errAt(n, path, "", fmt.Errorf("want a duration, got %s", kindName(n)))
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			return c.errAt(n, path, n.Value, errors.New("want a duration such as 5s, 250ms or 1m30s"))
		}
		return nil
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		if n.Kind != yaml.ScalarNode {
			return c.errAt(n, path, "", fmt.Errorf("want a string, got %s", kindName(n)))
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			return c.errAt(n, path, n.Value, err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return c.checkMapping(n, t, path, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return c.errAt(n, path, "", fmt.Errorf("want a list, got %s", kindName(n)))
		}
		for i, item := range n.Content {
			if err := c.checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return c.errAt(n, path, "", fmt.Errorf("want a string, got %s", kindName(n)))
		}
		return nil
	case reflect.Int, reflect.Float64, reflect.Bool:
		want := map[reflect.Kind]string{reflect.Int: "an integer", reflect.Float64: "a number", reflect.Bool: "true or false"}[t.Kind()]
		if n.Kind != yaml.ScalarNode {
			return c.errAt(n, path, "", fmt.Errorf("want %s, got %s", want, kindName(n)))
		}
		// yaml.v3 truncates a float decoded into an int: require an !!int.
		tag := n.ShortTag()
		if t.Kind() == reflect.Int && tag != "!!int" || t.Kind() == reflect.Float64 && tag != "!!int" && tag != "!!float" {
			return c.errAt(n, path, n.Value, fmt.Errorf("want %s", want))
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return c.errAt(n, path, n.Value, fmt.Errorf("want %s", want))
		}
		return nil
	}
	panic("BUG: config field of unhandled type " + t.String())
}

// checkMapping checks a mapping node against struct type t.
func (c *fileConfig) checkMapping(n *yaml.Node, t reflect.Type, path string, depth int) error {
	if n.Kind != yaml.MappingNode {
		return c.errAt(n, path, "", fmt.Errorf("want a mapping of fields, got %s", kindName(n)))
	}
	fields := yamlFields(t)
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" { // YAML merge key
			for _, m := range mergeSources(v) {
				if err := c.checkMapping(m, t, path, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		field := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			return c.errAt(k, path, "", fmt.Errorf("a key must be a name, got %s", kindName(k)))
		}
		if first, dup := seen[k.Value]; dup {
			return c.errAt(k, field, "", fmt.Errorf("set twice (first at line %d)", first))
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			names := make([]string, 0, len(fields))
			for i := 0; i < t.NumField(); i++ {
				if name := yamlName(t.Field(i)); name != "" {
					names = append(names, name)
				}
			}
			return c.errAt(k, field, "", fmt.Errorf("unknown field (want one of %s)", strings.Join(names, ", ")))
		}
		if err := c.checkShape(v, ft, field, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// mergeSources returns the mappings a merge key's value names.
func mergeSources(v *yaml.Node) []*yaml.Node {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if v.Kind != yaml.SequenceNode {
		return []*yaml.Node{v}
	}
	var out []*yaml.Node
	for _, m := range v.Content {
		if m.Kind == yaml.AliasNode {
			m = m.Alias
		}
		out = append(out, m)
	}
	return out
}

// yamlFields maps the yaml names of struct t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = t.Field(i).Type
		}
	}
	return m
}

// yamlName is the name of a field in the file, "" for unexported fields.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" || name == "-" {
		panic("BUG: config field " + f.Name + " has no yaml name")
	}
	return name
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// errAt returns a configError for field at node n's line.
func (c *fileConfig) errAt(n *yaml.Node, field, value string, err error) error {
	return &configError{file: c.file, line: n.Line, field: field, value: value, err: err}
}

// errAtPath returns a configError for the field at path, at its line.
func (c *fileConfig) errAtPath(path string, err error) error {
	return &configError{file: c.file, line: c.lineOf(path), field: path, err: err}
}

// lineOf returns the line of the field at path ("policy.rules[2].hosts[0]"),
// or of its deepest ancestor present in the file: the line of a list
// element, or of the key of a mapping entry.
func (c *fileConfig) lineOf(path string) int {
	if c.root == nil {
		return 0 // no file
	}
	n, line := c.root, c.root.Line
	for part := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		k, v := mappingEntry(n, name)
		if v == nil {
			return line
		}
		n, line = v, k.Line
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if n.Kind == yaml.AliasNode {
				n = n.Alias
			}
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return line
}

// mappingEntry returns the key and value nodes of name in mapping n (merge
// keys included), or nils.
func mappingEntry(n *yaml.Node, name string) (key, value *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name && n.Content[i].Tag != "!!merge" {
			return n.Content[i], n.Content[i+1]
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag == "!!merge" {
			for _, m := range mergeSources(n.Content[i+1]) {
				if k, v := mappingEntry(m, name); v != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}

// validate checks the values: each field with the validation of the
// component it configures (engine.Config.Check, resolver.New,
// policy.Compile), so that an error names the field's line, then each
// component's whole configuration for what involves several fields.
func (c *fileConfig) validate() error {
	if c.LogLevel != "" {
		if _, err := parseLevel(c.LogLevel); err != nil {
			return c.errAtPath("log_level", fmt.Errorf("%q is not debug, info, warn or error", c.LogLevel))
		}
	}
	if c.Admin != nil && *c.Admin != "" {
		if err := checkHostPort(*c.Admin); err != nil {
			return c.errAtPath("admin", fmt.Errorf("%q: %v", *c.Admin, err))
		}
	}
	if c.RewriteHeader != "" && c.Policy.RewriteHeader != "" && c.RewriteHeader != c.Policy.RewriteHeader {
		return c.errAtPath("policy.rewrite_header", fmt.Errorf("%q differs from rewrite_header %q: set one of them", c.Policy.RewriteHeader, c.RewriteHeader))
	}

	if c.Drain.PreStopDelay < 0 {
		return c.errAtPath("drain.pre_stop_delay", fmt.Errorf("%v is negative", c.Drain.PreStopDelay))
	}

	// Engine: each field alone, then all together.
	for _, f := range c.engineFields() {
		var ec engine.Config
		f.set(&ec)
		if err := ec.Check(); err != nil {
			return c.errAtPath(f.path, err)
		}
	}
	for _, l := range []struct {
		path string
		v    int
	}{
		{"limits.max_request_line", c.Limits.MaxRequestLine},
		{"limits.max_head_bytes", c.Limits.MaxHeadBytes},
		{"limits.max_headers", c.Limits.MaxHeaders},
	} {
		if l.v < 0 { // parser.Limits takes any value; negative is a mistake
			return c.errAtPath(l.path, fmt.Errorf("%d is negative", l.v))
		}
	}
	if err := c.engineConfig().Check(); err != nil {
		return &configError{file: c.file, err: err}
	}

	// Resolver: each field alone (reading no system files unless the field
	// names one), then all together. New does not start anything.
	for _, f := range c.resolverFields() {
		rc := resolver.Config{ResolvConf: resolver.Disabled, HostsFile: resolver.Disabled}
		f.set(&rc)
		if _, err := resolver.New(rc); err != nil {
			return c.errAtPath(f.path, err)
		}
	}
	if _, err := resolver.New(c.resolverConfig()); err != nil {
		return c.errAtPath("resolver", err)
	}

	// Policy errors name their field path.
	if _, err := policy.Compile(c.policyConfig()); err != nil {
		var ce *policy.ConfigError
		if errors.As(err, &ce) {
			return &configError{file: c.file, line: c.lineOf(ce.Field), err: err}
		}
		return c.errAtPath("policy", err)
	}
	return nil
}

// fieldSetter sets the field at path of a component's Config.
type fieldSetter[T any] struct {
	path string
	set  func(*T)
}

func (c *fileConfig) engineFields() []fieldSetter[engine.Config] {
	full := c.engineConfig()
	return []fieldSetter[engine.Config]{
		{"listen", func(e *engine.Config) { e.Listen = full.Listen }},
		{"loops", func(e *engine.Config) { e.Loops = full.Loops }},
		{"rewrite_header", func(e *engine.Config) { e.RewriteHeader = c.RewriteHeader }},
		{"policy.rewrite_header", func(e *engine.Config) { e.RewriteHeader = c.Policy.RewriteHeader }},
		{"timeouts.connect", func(e *engine.Config) { e.ConnectTimeout = full.ConnectTimeout }},
		{"timeouts.connect_total", func(e *engine.Config) { e.ConnectTotalTimeout = full.ConnectTotalTimeout }},
		{"timeouts.head", func(e *engine.Config) { e.HeadTimeout = full.HeadTimeout }},
		{"timeouts.idle", func(e *engine.Config) { e.IdleTimeout = full.IdleTimeout }},
		{"timeouts.response", func(e *engine.Config) { e.ResponseTimeout = full.ResponseTimeout }},
		{"timeouts.upstream_idle", func(e *engine.Config) { e.UpstreamIdle = full.UpstreamIdle }},
		{"timeouts.drain", func(e *engine.Config) { e.DrainTimeout = full.DrainTimeout }},
		{"limits.max_conns", func(e *engine.Config) { e.MaxConns = full.MaxConns }},
		{"limits.max_connect_attempts", func(e *engine.Config) { e.MaxConnectAttempts = full.MaxConnectAttempts }},
		{"limits.max_conns_per_host", func(e *engine.Config) { e.MaxConnsPerHost = full.MaxConnsPerHost }},
		{"limits.max_idle_per_host", func(e *engine.Config) { e.MaxIdlePerHost = full.MaxIdlePerHost }},
		{"limits.max_buffered", func(e *engine.Config) { e.MaxBuffered = full.MaxBuffered }},
		{"limits.stream_threshold", func(e *engine.Config) { e.StreamThreshold = full.StreamThreshold }},
		{"limits.stream_high_water", func(e *engine.Config) { e.StreamHighWater = full.StreamHighWater }},
		{"limits.splice_above", func(e *engine.Config) { e.SpliceAbove = full.SpliceAbove }},
	}
}

func (c *fileConfig) resolverFields() []fieldSetter[resolver.Config] {
	r := c.Resolver
	fs := []fieldSetter[resolver.Config]{
		{"resolver.resolv_conf", func(rc *resolver.Config) { rc.ResolvConf = r.ResolvConf }},
		{"resolver.hosts_file", func(rc *resolver.Config) { rc.HostsFile = r.HostsFile }},
		{"resolver.family", func(rc *resolver.Config) { rc.Family = r.Family }},
		{"resolver.min_ttl", func(rc *resolver.Config) { rc.MinTTL = r.MinTTL }},
		{"resolver.max_ttl", func(rc *resolver.Config) { rc.MaxTTL = r.MaxTTL }},
		{"resolver.host_ttl", func(rc *resolver.Config) { rc.HostTTL = r.HostTTL }},
		{"resolver.max_hosts", func(rc *resolver.Config) { rc.MaxHosts = r.MaxHosts }},
		{"resolver.max_negative_hosts", func(rc *resolver.Config) { rc.MaxNegativeHosts = r.MaxNegativeHosts }},
		{"resolver.cache_file", func(rc *resolver.Config) { rc.CacheFile = r.CacheFile }},
		{"resolver.cache_file_interval", func(rc *resolver.Config) { rc.CacheFileInterval = r.CacheFileInterval }},
		{"resolver.max_pending", func(rc *resolver.Config) { rc.MaxPending = r.MaxPending }},
		{"resolver.query_timeout", func(rc *resolver.Config) { rc.QueryTimeout = r.QueryTimeout }},
		{"resolver.workers", func(rc *resolver.Config) { rc.Workers = r.Workers }},
		{"resolver.failure_backoff_base", func(rc *resolver.Config) { rc.FailureBackoffBase = r.FailureBackoffBase }},
		{"resolver.failure_backoff_max", func(rc *resolver.Config) { rc.FailureBackoffMax = r.FailureBackoffMax }},
		{"resolver.max_stale", func(rc *resolver.Config) { rc.MaxStale = r.MaxStale }},
	}
	// Lists are probed by prefix, so that the first bad element is the
	// last one given and the index in the resolver's message is right.
	for i := range r.Nameservers {
		fs = append(fs, fieldSetter[resolver.Config]{fmt.Sprintf("resolver.nameservers[%d]", i),
			func(rc *resolver.Config) { rc.Nameservers = r.Nameservers[:i+1] }})
	}
	for i := range r.Preresolve {
		fs = append(fs, fieldSetter[resolver.Config]{fmt.Sprintf("resolver.preresolve[%d]", i),
			func(rc *resolver.Config) { rc.Preresolve = r.Preresolve[:i+1] }})
	}
	return fs
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

// engineConfig is the engine's configuration from the file. Logger and
// DialAddrCheck are left to the caller.
func (c *fileConfig) engineConfig() engine.Config {
	t, l := c.Timeouts, c.Limits
	return engine.Config{
		Listen:        c.Listen,
		Loops:         c.Loops,
		RewriteHeader: c.rewriteHeader(),
		Limits: parser.Limits{
			MaxRequestLine: l.MaxRequestLine,
			MaxHeadBytes:   l.MaxHeadBytes,
			MaxHeaders:     l.MaxHeaders,
		},
		ConnectTimeout:      t.Connect,
		ConnectTotalTimeout: t.ConnectTotal,
		MaxConnectAttempts:  l.MaxConnectTries,
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

// resolverConfig is the resolver's configuration from the file.
func (c *fileConfig) resolverConfig() resolver.Config {
	r := c.Resolver
	return resolver.Config{
		Nameservers:        r.Nameservers,
		ResolvConf:         r.ResolvConf,
		HostsFile:          r.HostsFile,
		Family:             r.Family,
		MinTTL:             r.MinTTL,
		MaxTTL:             r.MaxTTL,
		HostTTL:            r.HostTTL,
		MaxHosts:           r.MaxHosts,
		MaxNegativeHosts:   r.MaxNegativeHosts,
		CacheFile:          r.CacheFile,
		CacheFileInterval:  r.CacheFileInterval,
		MaxPending:         r.MaxPending,
		QueryTimeout:       r.QueryTimeout,
		Workers:            r.Workers,
		FailureBackoffBase: r.FailureBackoffBase,
		FailureBackoffMax:  r.FailureBackoffMax,
		MaxStale:           r.MaxStale,
		Preresolve:         r.Preresolve,
	}
}

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
// reports on w, and returns the exit code, 0 if valid, else 1.
func checkConfigFile(path string, w io.Writer) int {
	if _, err := loadConfigFile(path); err != nil {
		fmt.Fprintln(w, "sluice:", err)
		return 1
	}
	fmt.Fprintf(w, "sluice: %s: configuration valid\n", path)
	return 0
}
