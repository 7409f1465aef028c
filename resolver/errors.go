package resolver

import (
	"errors"

	"github.com/sluiceproxy/sluice/internal/fielderr"
)

// Errors given to Resolve callbacks and stored in negatively cached Answers.
// They are sentinels: test for them with errors.Is, since the error a caller
// receives usually wraps one of them with the host and the cause
// ("resolver: no such host: example.invalid"). The engine maps ErrTimeout to
// 504 and every other one to 503.
var (
	// ErrNotFound means the name does not exist (NXDOMAIN on every name of the
	// search list), has no records of the wanted address family (NODATA), or
	// is not a valid host name.
	ErrNotFound = errors.New("resolver: no such host")

	// ErrTimeout means no nameserver answered within the per-attempt timeouts,
	// or the whole resolution did not finish within Config.QueryTimeout.
	ErrTimeout = errors.New("resolver: DNS timeout")

	// ErrServerFailure means the nameservers answered SERVFAIL, REFUSED or
	// another error code, or could not be reached (connection refused,
	// malformed reply).
	ErrServerFailure = errors.New("resolver: DNS resolution failure")

	// ErrCacheOverflow means the host is not cached and the cache already
	// holds Config.MaxHosts hosts, none of them a negatively cached one
	// that could be evicted to make room (Envoy: "DNS cache overflow").
	ErrCacheOverflow = errors.New("resolver: DNS cache overflow")

	// ErrPendingOverflow means Config.MaxPending Resolve calls are already
	// waiting for an answer.
	ErrPendingOverflow = errors.New("resolver: too many pending DNS lookups")

	// ErrStopped is given to every callback still waiting when Stop is
	// called, and to Resolve calls made after it.
	ErrStopped = errors.New("resolver: stopped")
)

// ErrInvalidConfig is matched (errors.Is) by every error of Config.Validate
// and by New's errors about its Config.
var ErrInvalidConfig = errors.New("resolver: invalid configuration")

// ConfigError is a bad field of Config: its key in the config file
// ("resolver.nameservers[1]"), the bad value, and what is wrong with it. Its
// Kind is ErrInvalidConfig.
type ConfigError = fielderr.Error

// ConfigErrors are all the errors of a Config, in the order of its fields.
type ConfigErrors = fielderr.List
