package accesslog

import "errors"

// ErrClosed is returned by Reopen after Close.
var ErrClosed = errors.New("accesslog: logger closed")
