#!/bin/sh
# run.sh FUZZTIME TARGET...: fuzzes each target in this package for FUZZTIME.
#
# A target that fails having written no failing input under
# testdata/fuzz/TARGET/ is run once more: Go 1.26's fuzz coordinator can end
# a -fuzztime run with "context deadline exceeded" when a worker is still busy
# at the deadline (golang/go#75804, fixed in Go 1.27), which is not a finding.
# A failure that writes an input, or a second failure, stops the run.
# $GO is the go command (default: go), as in the Makefile.
set -u
cd "$(dirname "$0")" || exit 1
go=${GO:-go}
time=$1
shift
count() { ls "testdata/fuzz/$1" 2>/dev/null | wc -l; }
for t in "$@"; do
	echo "fuzz $t for $time"
	before=$(count "$t")
	$go test -run='^$' -fuzz="^$t\$" -fuzztime="$time" . && continue
	if [ "$(count "$t")" -ne "$before" ]; then
		echo "fuzz $t: failing input written to fuzz/testdata/fuzz/$t/" >&2
		exit 1
	fi
	echo "fuzz $t: failed without a failing input (golang/go#75804?); running it once more" >&2
	$go test -run='^$' -fuzz="^$t\$" -fuzztime="$time" . || exit 1
done
