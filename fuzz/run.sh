#!/bin/sh
# run.sh FUZZTIME TARGET...: fuzzes each target in this package for FUZZTIME.
#
# A target that fails having written no failing input under
# testdata/fuzz/TARGET/ is run once more: Go 1.26's fuzz coordinator can end
# a -fuzztime run with "context deadline exceeded" when a worker is still busy
# at the deadline (golang/go#75804, fixed in Go 1.27), which is not a finding.
# A failure that writes an input, or a second failure, stops the run.
#
# Minimization of each input is bounded to $FUZZMINIMIZETIME (default 2s, as
# in the Makefile). Go minimizes every new interesting input for up to 60s by
# default, during which the worker runs no new inputs and reports no execs:
# with the two workers of a 2-core machine both minimizing, FuzzChunked sat at
# 0 execs/s for most of a 20s run. A crasher is minimized within the same
# bound; to minimize one further, run its target with a larger
# -fuzzminimizetime.
#
# $GO is the go command (default: go), as in the Makefile.
set -u
cd "$(dirname "$0")" || exit 1
go=${GO:-go}
minimize=${FUZZMINIMIZETIME:-2s}
time=$1
shift
count() { ls "testdata/fuzz/$1" 2>/dev/null | wc -l; }
fuzz() { $go test -run='^$' -fuzz="^$1\$" -fuzztime="$time" -fuzzminimizetime="$minimize" .; }
for t in "$@"; do
	echo "fuzz $t for $time"
	before=$(count "$t")
	fuzz "$t" && continue
	if [ "$(count "$t")" -ne "$before" ]; then
		echo "fuzz $t: failing input written to fuzz/testdata/fuzz/$t/" >&2
		exit 1
	fi
	echo "fuzz $t: failed without a failing input (golang/go#75804?); running it once more" >&2
	fuzz "$t" || exit 1
done
