// Package fielderr is the error of a bad configuration field, shared by the
// components that validate their own configuration (engine, resolver,
// policy): the field's key in the config file, the bad value and the reason,
// so that cmd/sluice can place every error at its line. Each component
// exports it under its own name (policy.ConfigError) with its own sentinel as
// Kind, matched by errors.Is.
package fielderr

import (
	"fmt"
	"strings"
)

// Error is one bad field.
type Error struct {
	Field  string // path in the config file, "policy.rules[2].hosts[0]"
	Value  string // the bad value, "" when the field as a whole is wrong
	Reason string
	Kind   error // what Unwrap returns: the component's ErrInvalidConfig
}

// maxValue caps the bad value quoted in Error (STYLE.md: quote bad input,
// capped).
const maxValue = 128

// Error returns `field: "value": reason`.
func (e *Error) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Reason
	}
	v := e.Value
	if len(v) > maxValue {
		v = v[:maxValue] + "..."
	}
	return fmt.Sprintf("%s: %q: %s", e.Field, v, e.Reason)
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// List is every bad field of a configuration, in the order of its fields.
// errors.As finds the first *Error in it; errors.Is matches each one's Kind.
type List []*Error

// Error returns the errors, one a line.
func (l List) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors.
func (l List) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}
