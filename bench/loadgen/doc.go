// Package loadgen is sluice's HTTP/1.1 load client: it drives a proxy (or an
// origin directly) over keep-alive connections with optional pipelining and rate
// limiting, and reports throughput, status counts and an HDR latency histogram.
//
// It is written on raw sockets (net.Dialer and net.Conn, no net/http) so that on a
// small machine the client is not the bottleneck of the thing it measures: each
// connection is one goroutine that writes request bytes built once at start and
// reads responses with a minimal parser into a reused buffer, with no allocation
// per request in steady state.
//
// What it assumes: the peer speaks HTTP/1.1 (or 1.0) over cleartext TCP; the
// request is the same for every request of a run; responses are consumed and
// discarded, only their framing is checked. It is a measuring tool, not a general
// client: it does not follow redirects, does not speak TLS, and treats 101
// Switching Protocols as an error.
//
// Latency is measured from the write of a request (for a pipelined batch, from the
// one write of the whole batch) to the last byte of its response. With a Rate,
// requests are scheduled on a fixed timetable shared by all connections, but
// latency is still measured from the actual write, so a server that falls behind
// the timetable shows as lower throughput rather than as higher latency
// (coordinated omission is not corrected).
package loadgen
