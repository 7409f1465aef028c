// Package bench holds sluice's load tests: end-to-end benchmarks that run an
// origin, the proxy and a load client (bench/loadgen) in one process on
// loopback, each beside a baseline measured in the same run (the same client
// straight to the origin). Run them with `make bench` or
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// Flags: -conns (client connections, default 50) and -pipeline (requests in
// flight per connection, default 1).
package bench
