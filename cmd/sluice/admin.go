package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/metrics"
	"github.com/sluiceproxy/sluice/resolver"
)

// adminDeps is what the admin server shows, as functions, so that tests can
// build it without a running proxy. A nil field turns its endpoint off (404),
// except Ready: nil means always ready.
type adminDeps struct {
	// Metrics writes every metric in Prometheus text format
	// (metrics.Metrics.WritePrometheus).
	Metrics func(w io.Writer)
	// Ready returns nil when the proxy is ready for traffic, else why not
	// (see readiness).
	Ready func() error
	// Live returns nil while the process is alive and serving (/livez);
	// nil: always.
	Live func() error
	// DNS returns the resolver's cache (resolver.Resolver.Dump).
	DNS func() []resolver.HostInfo
	// Config returns the effective configuration; /config marshals it with
	// its yaml tags and redacts secrets (redactSecrets).
	Config func() any
	// ConfigLoaded returns when the configuration in force was loaded
	// (shown by /config); nil: not shown.
	ConfigLoaded func() time.Time
	// Reload re-reads the config file (POST /reload); it returns the error
	// that kept the configuration in force. nil turns /reload off.
	Reload func() error
	// Cache is the response cache (/debug/cache, POST /cache/purge); nil
	// when it is off.
	Cache *cache.Store
}

// newAdminDeps is adminDeps for a running proxy.
func newAdminDeps(srv *engine.Server, res *resolver.Resolver, m *metrics.Metrics, config func() any) adminDeps {
	d := adminDeps{
		Ready:  readiness(readyInputs{srv: srv, resolverReady: res.Ready()}),
		DNS:    res.Dump,
		Config: config,
	}
	if m != nil {
		d.Metrics = m.WritePrometheus
	}
	return d
}

// proxyState is the part of *engine.Server that readiness looks at.
type proxyState interface {
	Draining() bool
	Done() <-chan struct{}
	Err() error
}

// readyInputs are what readiness looks at.
type readyInputs struct {
	srv           proxyState
	resolverReady <-chan struct{} // closed once the preresolve hosts answered (or failed)
	// terminating is set on SIGTERM, before the pre-stop delay and the
	// drain; nil: never.
	terminating *atomic.Bool
	// After preresolveWait from started, the proxy is ready even if the
	// preresolve hosts have not answered: a nameserver that never answers
	// must not keep a pod out of service forever. 0: wait for them.
	started        time.Time
	preresolveWait time.Duration
	now            func() time.Time // nil: time.Now
}

// readiness returns adminDeps.Ready for a started proxy: ready once the
// resolver has answered for its preresolve hosts (resolverReady closed, or
// preresolveWait passed), until SIGTERM (terminating) or the drain or stop;
// when not ready, the error says why.
func readiness(in readyInputs) func() error {
	now := in.now
	if now == nil {
		now = time.Now
	}
	srv, resolverReady := in.srv, in.resolverReady
	return func() error {
		select {
		case <-srv.Done():
			if err := srv.Err(); err != nil {
				return fmt.Errorf("proxy stopped: %w", err)
			}
			return errors.New("proxy stopped")
		default:
		}
		if in.terminating != nil && in.terminating.Load() {
			return errors.New("shutting down (SIGTERM)")
		}
		if srv.Draining() {
			return errors.New("draining")
		}
		select {
		case <-resolverReady:
		default:
			if in.preresolveWait > 0 && now().Sub(in.started) >= in.preresolveWait {
				return nil // waited long enough for the preresolve hosts
			}
			return errors.New("resolver: preresolve hosts not resolved yet")
		}
		return nil
	}
}

// liveness returns adminDeps.Live: alive unless the engine stopped by
// itself (the process is then about to exit 1).
func liveness(srv proxyState) func() error {
	return func() error {
		select {
		case <-srv.Done():
			if err := srv.Err(); err != nil {
				return fmt.Errorf("proxy stopped: %w", err)
			}
		default:
		}
		return nil
	}
}

// adminMux serves the admin endpoints:
//
//	/metrics       Prometheus text format
//	/healthz       200 "ok": the process is up
//	/livez         200 "alive", or 503 once the engine stopped by itself (Kubernetes livenessProbe)
//	/readyz        200 "ready", or 503 with the reason: preresolve hosts not answered yet,
//	               shutting down (from SIGTERM, through the pre-stop delay), draining, stopped
//	/debug/dns     the DNS cache as JSON: {"count": n, "hosts": [resolver.HostInfo...]};
//	               ?host=NAME shows one host
//	/debug/pprof/  net/http/pprof, on this mux (not http.DefaultServeMux)
//	/config        the effective configuration as YAML (?format=json for JSON), secrets redacted
//	/debug/cache   the response cache's counters as JSON (cache.StoreStats), when it is on
//	POST /cache/purge  empties the response cache, or with ?url=http://host/path drops
//	               that URL's entry
//
// It is plain net/http, off the proxy's data path.
func adminMux(d adminDeps) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		if d.Live != nil {
			if err := d.Live(); err != nil {
				http.Error(w, "not alive: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "alive\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if d.Ready != nil {
			if err := d.Ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ready\n")
	})
	if d.Metrics != nil {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			d.Metrics(w)
		})
	}
	if d.DNS != nil {
		mux.HandleFunc("GET /debug/dns", func(w http.ResponseWriter, r *http.Request) {
			hosts := d.DNS()
			if h := r.URL.Query().Get("host"); h != "" {
				h = strings.ToLower(strings.TrimSuffix(h, "."))
				var one []resolver.HostInfo
				for _, hi := range hosts {
					if hi.Host == h {
						one = append(one, hi)
					}
				}
				hosts = one
			}
			if hosts == nil {
				hosts = []resolver.HostInfo{}
			}
			writeJSON(w, struct {
				Count int                 `json:"count"`
				Hosts []resolver.HostInfo `json:"hosts"`
			}{len(hosts), hosts})
		})
	}
	if d.Config != nil {
		mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
			if d.ConfigLoaded != nil {
				w.Header().Set("Sluice-Config-Loaded", d.ConfigLoaded().UTC().Format(time.RFC3339))
			}
			serveConfig(w, r, d.Config())
		})
	}
	if d.Reload != nil {
		mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
			if err := d.Reload(); err != nil {
				// 400: the file is at fault; the old configuration stays.
				http.Error(w, "reload failed, configuration unchanged: "+err.Error(), http.StatusBadRequest)
				return
			}
			io.WriteString(w, "reloaded\n")
		})
	}
	if d.Cache != nil {
		mux.HandleFunc("GET /debug/cache", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, d.Cache.Stats())
		})
		mux.HandleFunc("POST /cache/purge", func(w http.ResponseWriter, r *http.Request) {
			raw := r.URL.Query().Get("url")
			if raw == "" {
				d.Cache.Purge()
				io.WriteString(w, "purged\n")
				return
			}
			key, err := cache.KeyOfURL(nil, raw)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			d.Cache.Delete(key)
			io.WriteString(w, "purged "+raw+"\n")
		})
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // for people and jq, not for HTML pages
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

// serveConfig writes cfg as YAML, or JSON for ?format=json, with its secrets
// redacted.
func serveConfig(w http.ResponseWriter, r *http.Request, cfg any) {
	var n yaml.Node
	if err := n.Encode(cfg); err != nil {
		http.Error(w, "config: "+err.Error(), http.StatusInternalServerError)
		return
	}
	redactSecrets(&n)
	switch r.URL.Query().Get("format") {
	case "json":
		var v any
		if err := n.Decode(&v); err != nil {
			http.Error(w, "config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, v)
	case "", "yaml":
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&n); err != nil {
			http.Error(w, "config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		_, _ = w.Write(b.Bytes())
	default:
		http.Error(w, "format: want yaml or json", http.StatusBadRequest)
	}
}

// redacted replaces a secret in /config.
const redacted = "<redacted>"

// secretKeySuffixes are the ends of field names (lower case, without '_'
// and '-') whose values are secrets. "htpasswd" is not one: it is the path
// of the password file, which may show; the file's hashes never reach the
// configuration.
var secretKeySuffixes = []string{"password", "passphrase", "secret", "token", "apikey",
	"privatekey", "credential", "credentials", "authorization", "hash", "hashes"}

// hashMarkers start password hashes (bcrypt, Apache MD5, SHA-1, crypt(3)
// SHA-256/512, Argon2): a scalar that contains one (an htpasswd line
// "user:$2y$...") is redacted whole.
var hashMarkers = []string{"$2a$", "$2b$", "$2x$", "$2y$", "$apr1$", "{SHA}", "$5$", "$6$", "$argon2"}

// redactSecrets replaces, in the tree at n, the value of every mapping key
// that names a secret, every scalar that looks like a password hash, and
// the password of any URL with userinfo.
func redactSecrets(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactSecrets(c)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if isSecretKey(k.Value) && !(v.Kind == yaml.ScalarNode && (v.Value == "" || v.Tag == "!!null")) {
				*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: redacted}
				continue
			}
			redactSecrets(v)
		}
	case yaml.ScalarNode:
		for _, p := range hashMarkers {
			if strings.Contains(n.Value, p) {
				n.Value, n.Tag, n.Style = redacted, "!!str", 0
				return
			}
		}
		n.Value = redactURLPassword(n.Value)
	}
}

func isSecretKey(k string) bool {
	k = strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(k))
	for _, s := range secretKeySuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// redactURLPassword replaces the password in "scheme://user:password@host..."
func redactURLPassword(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return s
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return s
	}
	return s[:i+3] + rest[:colon+1] + redacted + rest[at:]
}
