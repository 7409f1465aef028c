// Package engine is sluice's data path: event loops on gnet, the per-connection
// proxy session, and the upstream connections each loop owns.
//
// The proxy logic lives in Session, a state machine that owns no socket (it is
// sans-IO, like h11 or quinn-proto): it is fed events (bytes from the client,
// bytes from the upstream, a resolved name, a connected or failed upstream, a
// timer) and acts through the Driver interface. Server drives sessions on gnet
// event loops; MemDriver drives one in memory, for tests and fuzzing.
//
// One event loop owns a client connection, the upstream connection it uses,
// the loop's idle pool and its timing wheel, so none of them needs a lock.
// Anything that blocks (DNS, connect) happens off the loop and comes back with
// EventLoop.Execute or EventLoop.Enroll.
package engine
