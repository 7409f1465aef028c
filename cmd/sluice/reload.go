package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/policy"
)

// restartOnly are the top-level sections of the config file that a reload
// cannot change: the listeners, the event loops and their library, the
// engine's timeouts and
// limits, the resolver, the access log's path. A reload that changes them
// logs their names and leaves them as they are.
var restartOnly = []string{"listen", "transparent_listen", "admin", "loops", "engine", "access_log", "timeouts", "limits", "resolver", "cache", "compression", "tls_origination"}

// reloader re-reads the config file on SIGHUP and POST /reload and swaps in
// what can change while sluice runs: the policy (rules, client ACL, auth file,
// rate limits and their store, CONNECT ports, rewrite headers) and the log
// level; it also reopens the access log (logrotate). An invalid file changes
// nothing.
//
// Safe for concurrent use: one reload runs at a time (mu); inForce is read
// by /config without the lock.
type reloader struct {
	// Set once by run.
	path   string   // the config file; "" when sluice runs on flags alone
	opts   *options // the command line: flags override the file, as at start
	srv    *engine.Server
	reopen func() error // the access log's Reopen
	level  *slog.LevelVar
	log    *slog.Logger
	stores *rateStore // the shared rate limits' store, guarded by mu
	// effective computes what /config shows for a loaded file.
	effective func(c *fileConfig, pol *policy.Policy) *fileConfig

	mu      sync.Mutex
	current *fileConfig // guarded by mu: the file in force

	inForce atomic.Pointer[configInForce]
	ok      atomic.Uint64 // successful reloads
	failed  atomic.Uint64 // failed reloads
}

// configInForce is what /config shows: the effective configuration and when
// it was loaded.
type configInForce struct {
	cfg    *fileConfig
	loaded time.Time
}

// reload re-reads the file. It returns the error that kept the old config,
// with the file and line when the file is at fault.
func (r *reloader) reload(reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reopen != nil {
		if err := r.reopen(); err != nil {
			r.log.Error("access log reopen", "err", err)
		}
	}
	if r.path == "" {
		return nil // flags only: nothing else to re-read
	}
	c, pol, swap, err := r.load()
	if err != nil {
		r.failed.Add(1)
		r.log.Error("reload failed: the configuration in force is unchanged", "trigger", reason, "err", err)
		return err
	}
	if ignored := changedSections(r.current, c, restartOnly); len(ignored) > 0 {
		r.log.Warn("reload: these settings change only with a restart; ignored", "settings", ignored)
		c = keepSections(c, r.current)
	}
	if err := r.srv.Reload(engine.Dynamic{Policy: pol, RewriteHeader: c.rewriteHeader()}); err != nil {
		swap.abort()
		r.failed.Add(1)
		r.log.Error("reload failed: the configuration in force is unchanged", "trigger", reason, "err", err)
		return err
	}
	swap.commit()
	r.level.Set(c.logLevel())
	r.current = c
	r.inForce.Store(&configInForce{cfg: r.effective(c, pol), loaded: time.Now()})
	r.ok.Add(1)
	r.log.Info("configuration reloaded", "trigger", reason, "file", r.path)
	return nil
}

// load reads, validates and compiles the file with the flags applied; the
// policy's rate-limit store is to be committed or aborted.
func (r *reloader) load() (*fileConfig, *policy.Policy, *storeSwap, error) {
	c, err := loadConfigFile(r.path)
	if err != nil {
		return nil, nil, nil, err
	}
	c.applyFlags(r.opts, r.opts.set)
	if err := c.validate(); err != nil {
		return nil, nil, nil, err
	}
	pol, swap, err := r.stores.compile(c.policyConfig())
	if err != nil {
		return nil, nil, nil, c.locate(err)
	}
	return c, pol, swap, nil
}

// locate adds the file and line to a policy error when it names a field.
func (c *fileConfig) locate(err error) error {
	var ce *policy.ConfigError
	if errors.As(err, &ce) && c.file != "" {
		if line := lineOf(c.root, ce.Field); line > 0 {
			return fmt.Errorf("%s:%d: %w", c.file, line, err)
		}
		return fmt.Errorf("%s: %w", c.file, err)
	}
	return err
}

// changedSections returns the dotted paths under sections whose values
// differ between a and b.
func changedSections(a, b *fileConfig, sections []string) []string {
	var na, nb yaml.Node
	if err := na.Encode(a); err != nil {
		return nil
	}
	if err := nb.Encode(b); err != nil {
		return nil
	}
	var out []string
	for _, s := range sections {
		out = diffNodes(out, s, mappingValue(&na, s), mappingValue(&nb, s))
	}
	slices.Sort(out)
	return out
}

// mappingValue returns the value of key in mapping node n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// diffNodes appends to out the paths below path where a and b differ.
func diffNodes(out []string, path string, a, b *yaml.Node) []string {
	if a != nil && b != nil && a.Kind == yaml.MappingNode && b.Kind == yaml.MappingNode {
		keys := map[string]bool{}
		for _, n := range []*yaml.Node{a, b} {
			for i := 0; i+1 < len(n.Content); i += 2 {
				keys[n.Content[i].Value] = true
			}
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			out = diffNodes(out, path+"."+k, mappingValue(a, k), mappingValue(b, k))
		}
		return out
	}
	if !sameNode(a, b) {
		out = append(out, path)
	}
	return out
}

// sameNode reports whether two YAML values are equal.
func sameNode(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	ba, err1 := yaml.Marshal(a)
	bb, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && string(ba) == string(bb)
}

// keepSections returns c with the restart-only settings of old: a reload
// must not make /config show values that are not in force.
func keepSections(c, old *fileConfig) *fileConfig {
	n := *c
	n.Listen, n.TransparentListen, n.Admin, n.Loops, n.Engine, n.AccessLog = old.Listen, old.TransparentListen, old.Admin, old.Loops, old.Engine, old.AccessLog
	n.Timeouts, n.Limits, n.Resolver, n.Cache, n.Compress = old.Timeouts, old.Limits, old.Resolver, old.Cache, old.Compress
	return &n
}
