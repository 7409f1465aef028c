package policy

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// NewRedisStore returns the store rl names (rl.Store, with its
// StoreTimeout), not yet started: it has not dialed. log receives one line
// each time the store goes down or comes back. The error names the field,
// as Compile's do.
func NewRedisStore(rl RateLimits, log *slog.Logger) (*RedisStore, error) {
	b, err := newRedisBackend(rl)
	if err != nil {
		return nil, err
	}
	s := newStore(rl, b, log)
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{s.log}) })
	return s, nil
}

// redisBackend is a RedisStore's Redis: go-redis, with one connection in
// use at a time (one goroutine calls it), every call bounded by the
// store's timeout through its context, and no retries: the store decides
// what a failure means.
type redisBackend struct {
	// Set once by newRedisBackend.
	client *redis.Client

	// Owned by the store's goroutine: reused argument buffers.
	keys []string
	args []any
}

// newRedisBackend returns the backend of rl.Store (validated by Compile,
// checked again here).
func newRedisBackend(rl RateLimits) (*redisBackend, error) {
	opts, reason := parseStoreURL(rl.Store)
	if reason != "" {
		return nil, configErrorf("policy.rate_limits.store", redactURL(rl.Store), "%s", reason)
	}
	timeout := rl.StoreTimeout
	if timeout == 0 {
		timeout = DefaultStoreTimeout
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = timeout, timeout, timeout
	opts.ContextTimeoutEnabled = true
	opts.DialerRetries = 1
	opts.MaxRetries = -1 // none
	opts.PoolSize = 2
	opts.PoolTimeout = timeout
	opts.Protocol = 2 // no HELLO: any Redis since 2.6 (HSET of two fields: 4.0)
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &redisBackend{client: redis.NewClient(opts)}, nil
}

// redisLogOnce routes go-redis's own log (a line per failed dial, which
// during an outage is a line per ping) to the first store's logger, at
// debug level: the store logs the outage once (setDown). go-redis has one
// logger per process.
var redisLogOnce sync.Once

// redisLog is a go-redis logger writing to a slog.Logger at debug level.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (b *redisBackend) take(ctx context.Context, reqs []takeReq) error {
	b.keys, b.args = b.keys[:0], append(b.args[:0], "")
	for _, r := range reqs {
		k := r.lease.kind
		b.keys = append(b.keys, r.lease.key)
		b.args = append(b.args, k.rateArg, k.burstArg, r.charge, r.want)
	}
	res, err := tokenBucketScript.Run(ctx, b.client, b.keys, b.args...).Int64Slice()
	clear(b.args)
	if err != nil {
		return fmt.Errorf("policy: rate-limit store: %w", err)
	}
	if len(res) != 2*len(reqs) {
		return fmt.Errorf("policy: rate-limit store: %d values for %d buckets", len(res), len(reqs))
	}
	for i := range reqs {
		reqs[i].granted = res[2*i]
		reqs[i].wait = time.Duration(res[2*i+1]) * time.Microsecond
	}
	return nil
}

func (b *redisBackend) ping(ctx context.Context) error { return b.client.Ping(ctx).Err() }

func (b *redisBackend) close() error { return b.client.Close() }

// parseStoreURL checks a RateLimits.Store URL and returns go-redis's
// options for it, or why it is not one.
func parseStoreURL(s string) (_ *redis.Options, reason string) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, "not a URL"
	}
	switch u.Scheme {
	case "redis", "rediss":
	case "":
		return nil, "no scheme: want redis://host:port/db or rediss://"
	default:
		return nil, fmt.Sprintf("unknown scheme %q: want redis:// or rediss://", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, "no host: want " + u.Scheme + "://host:port/db"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Sprintf("port %q: want 1-65535", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, "empty port"
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 || strings.Contains(db, "/") {
			return nil, fmt.Sprintf("db %q: want a number", db)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, "query and fragment are not supported (store_timeout sets the timeouts)"
	}
	opts, err := redis.ParseURL(s)
	if err != nil {
		return nil, err.Error()
	}
	return opts, ""
}

// redactURL returns s with its password, if any, replaced: for errors and
// logs. A string that does not parse is shown up to its userinfo only.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return "…" + s[i:]
	}
	return s
}
