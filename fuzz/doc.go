// Package fuzz holds sluice's fuzz targets and their corpora (testdata/fuzz).
// The package has no code of its own: every target is in a _test.go file and
// runs with `go test -fuzz=^FuzzName$ ./fuzz/`; `make fuzz` runs them all.
//
// parser_fuzz_test.go fuzzes package parser on its own and against
// net/http.ReadRequest; README.md lists the intended differences between the
// two. session_fuzz_test.go drives whole proxy sessions through
// engine.MemDriver, stream mode included (MemDriver.AutoStream moves a
// streamed body as the gnet driver's stream job does). harness_test.go checks that FuzzChunked's body costs time linear in
// its input, as every target's must (README.md, Throughput).
package fuzz
