// Package pool keeps sluice's upstream connections.
//
// Idle is a per-event-loop pool of idle upstream connections keyed by the
// resolved address (netip.AddrPort) and, for a TLS connection, the server
// name it was verified for (Key), most recently used first. It has no lock:
// the event loop that owns it is its only user. HostLimit counts open upstream
// connections per address across all loops (sharded maps, each under its own
// mutex, that forget an address when its count reaches zero), so a per-host
// cap holds however the connections are spread over loops.
//
// The package knows nothing of the network framework: an idle connection is any
// value the caller stores (the engine stores its gnet connection handles).
package pool
