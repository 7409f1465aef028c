package engine

import "github.com/sluiceproxy/sluice/proxy"

// Config is the proxy's configuration (proxy.Config): what a Server listens
// on, which engine runs it, and what its sessions do.
type Config = proxy.Config

// Dynamic is the part of Config a reload changes (proxy.Dynamic).
type Dynamic = proxy.Dynamic
