package loadgen

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Result is the outcome of a run. Run builds it after every connection has
// stopped and hands it to the caller, who owns it.
type Result struct {
	// Requests is the number of responses received in full, whatever their
	// status. Each is in Status and in Latency.
	Requests int64

	// Errors is the number of requests that ended without a full response
	// (dial, write or read failure, timeout, malformed response); ErrorsBy
	// splits it by cause. Requests cut short by the end of the run are in
	// neither Requests nor Errors.
	Errors int64

	// ErrorsBy splits Errors by the failure that lost each request.
	ErrorsBy ErrorCounts

	// FirstError is the first failure seen, nil if there was none.
	FirstError error

	// Status counts responses by status code.
	Status map[int]int64

	// BytesRead is every byte read from the sockets: response heads and bodies.
	BytesRead int64

	// Elapsed is the time from the start of the run until every connection
	// stopped.
	Elapsed time.Duration

	// ConnsOpened counts successful dials, including reconnects after the
	// server closed a connection. With keep-alive and no errors it equals
	// Config.Connections.
	ConnsOpened int64

	// Latency holds each response's latency in microseconds, from 1 µs to 60 s at
	// 3 significant digits (values outside are clamped into the range).
	Latency *hdrhistogram.Histogram
}

// ErrorCounts counts requests lost, by the kind of failure that lost them.
type ErrorCounts struct {
	Dial     int64 // the connection could not be opened
	Write    int64 // writing the request failed
	Read     int64 // reading the response failed: reset, or closed before it ended
	Timeout  int64 // a dial, write or response wait exceeded Config.Timeout
	Protocol int64 // the response was malformed or unsupported
}

// Total returns the sum of the counts.
func (e ErrorCounts) Total() int64 {
	return e.Dial + e.Write + e.Read + e.Timeout + e.Protocol
}

func (e *ErrorCounts) add(o *ErrorCounts) {
	e.Dial += o.Dial
	e.Write += o.Write
	e.Read += o.Read
	e.Timeout += o.Timeout
	e.Protocol += o.Protocol
}

// ReqPerSec returns completed responses per second of Elapsed.
func (r *Result) ReqPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// MiBPerSec returns BytesRead in MiB (2^20 bytes) per second of Elapsed.
func (r *Result) MiBPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.BytesRead) / (1 << 20) / r.Elapsed.Seconds()
}

// Percentile returns the latency at percentile q, q in [0, 100] (50 is the
// median, 99.9 the 99.9th percentile, 100 the maximum). It returns 0 when no
// response was recorded.
func (r *Result) Percentile(q float64) time.Duration {
	return time.Duration(r.Latency.ValueAtQuantile(q)) * time.Microsecond
}

// Max returns the highest latency recorded, 0 if none.
func (r *Result) Max() time.Duration {
	return time.Duration(r.Latency.Max()) * time.Microsecond
}

// Mean returns the mean latency, 0 if none was recorded.
func (r *Result) Mean() time.Duration {
	return time.Duration(r.Latency.Mean() * float64(time.Microsecond))
}

// Snapshot is the progress of a running load run, passed to Config.Progress.
// Totals count from the start of the run.
type Snapshot struct {
	Elapsed     time.Duration // since the start of the run
	Requests    int64         // responses received in full so far
	Errors      int64         // requests lost so far
	BytesRead   int64         // bytes read so far
	ConnsOpened int64         // successful dials so far

	Interval          time.Duration // since the previous snapshot (or the start)
	IntervalRequests  int64         // responses received in Interval
	IntervalBytesRead int64         // bytes read in Interval
}

// ReqPerSec returns the response rate over the last Interval.
func (s Snapshot) ReqPerSec() float64 {
	if s.Interval <= 0 {
		return 0
	}
	return float64(s.IntervalRequests) / s.Interval.Seconds()
}

// MiBPerSec returns the bytes read over the last Interval in MiB (2^20 bytes)
// per second.
func (s Snapshot) MiBPerSec() float64 {
	if s.Interval <= 0 {
		return 0
	}
	return float64(s.IntervalBytesRead) / (1 << 20) / s.Interval.Seconds()
}
