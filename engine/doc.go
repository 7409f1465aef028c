// Package engine is sluice's data path above the socket: the Server (accept
// loop, admission, descriptor budget, drain, reload), the Driver each
// session acts through, upstream dialing with the address guard, the
// per-loop idle pools and timing wheels, stream mode (splice) and tunnels,
// TLS origination (the handshake off the loop, a bridge to the loop).
//
// The proxy logic itself is package proxy's sans-IO Session, fed through
// proxy.Pump. The sockets belong to an event-loop library behind the
// eventloop interfaces: engine/gnetengine (gnet: one loop per core) or
// engine/netpollengine (netpoll: shards on a goroutine pool), chosen by
// Config.Engine. Both run this same code.
//
// One loop owns a client connection, the upstream connection it uses, the
// loop's idle pool and its timing wheel, so none of them needs a lock.
// Anything that blocks (DNS, connect, a TLS handshake, bcrypt) happens off
// the loop and comes back with Loop.Execute or Loop.Enroll.
package engine
