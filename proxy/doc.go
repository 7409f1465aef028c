// Package proxy is sluice's sans-IO proxy core: the Session (one client
// connection's HTTP/1.1 requests in, forwarded requests out, responses back,
// CONNECT and Upgrade hand-offs, policy, errors and access records), the
// Driver it acts through, and the Pump every driver feeds it with, so the
// session is never re-entered and every driver (both engines, and the
// in-memory driver of proxytest) delivers events in the same order.
//
// Nothing here touches a socket: the session is fed events (bytes, a
// resolved name, a connected upstream, a timer) and answers with Driver
// calls, like h11 or quinn-proto.
package proxy
