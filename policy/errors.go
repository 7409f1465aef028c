package policy

import (
	"errors"
	"fmt"

	"github.com/sluiceproxy/sluice/internal/fielderr"
)

// Error is a request refused by the policy, with the HTTP status the client is
// answered with and a short reason for the sluice-error detail and the access
// log.
type Error struct {
	Status int
	Reason string
}

// Error returns "policy: " followed by the reason.
func (e *Error) Error() string { return "policy: " + e.Reason }

// Refusals of a request, for the engine to answer with. CheckAddr returns a
// new *Error with Status 403 whose Reason names the address and the range
// ("destination address 169.254.169.254 denied (link-local)").
var (
	// ErrClientDenied: the client address is outside Config.ClientCIDRs.
	ErrClientDenied = &Error{403, "client address not allowed"}
	// ErrDestinationDenied: Check returned a Decision that does not allow.
	ErrDestinationDenied = &Error{403, "destination denied by policy"}
	// ErrConnectPort: a CONNECT to a port outside Config.ConnectPorts.
	ErrConnectPort = &Error{403, "CONNECT port not allowed"}
	// ErrAuthRequired: missing or wrong proxy credentials (answer with
	// Proxy-Authenticate).
	ErrAuthRequired = &Error{407, "proxy authentication required"}
	// ErrRateLimited: AllowRate refused (answer with Retry-After).
	ErrRateLimited = &Error{429, "rate limited"}
	// ErrAuthOverloaded: Verify found the queue of bcrypt verifications
	// full (AuthConfig.Queue); the credential was not checked.
	ErrAuthOverloaded = &Error{503, "proxy authentication overloaded"}
	// ErrAuthClientBusy: Verify found AuthConfig.MaxPerClient
	// verifications of this client address waiting or running.
	ErrAuthClientBusy = &Error{429, "too many proxy authentications in flight from this client"}
)

// ErrInvalidConfig is matched (errors.Is) by every error of Compile.
var ErrInvalidConfig = errors.New("policy: invalid configuration")

// ConfigError is an error of Compile: the field of the configuration file that
// holds the bad value (its path from the top of the file, such as
// "policy.rules[2].hosts[0]", so it starts with the package name), the value,
// and what is wrong with it. Its Kind is ErrInvalidConfig.
type ConfigError = fielderr.Error

// ConfigErrors are all the errors of a Config that Compile found, in the
// order of its fields. errors.As finds the first *ConfigError in them, and
// errors.Is matches ErrInvalidConfig.
type ConfigErrors = fielderr.List

// asConfigError returns err if it is a *ConfigError, else err as the
// reason of one naming field.
func asConfigError(field string, err error) *ConfigError {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return ce
	}
	return &ConfigError{Field: field, Reason: err.Error(), Kind: ErrInvalidConfig}
}

func configErrorf(field, value, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...), Kind: ErrInvalidConfig}
}
