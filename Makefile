# sluice: a dynamic forward proxy for HTTP/1.1 egress traffic.
#
#   make run     build and start sluice with defaults (127.0.0.1:3128, admin 127.0.0.1:9901)
#   make test    go vet, the race-enabled test suite, deploy/'s tests, then every fuzz target briefly
#   make bench   the benchmarks (parser, resolver, end-to-end in bench/)
#   make fuzz    every fuzz target for FUZZTIME each (default 3m)
#   make image   the container images (Dockerfile), with docker, podman or buildah

GO        ?= go
FUZZTIME  ?= 3m
# How long `make test` fuzzes each target: long enough to shake out a regression
# in the seed corpus, short enough to keep `make test` well under ten minutes.
TESTFUZZTIME ?= 10s
# How long the fuzzer may minimize each new input, in `make fuzz` and
# `make fuzz-short` alike: Go's default of 60s stalls a run at 0 execs/s
# (fuzz/run.sh).
FUZZMINIMIZETIME ?= 2s
BENCHTIME ?= 1s
RUNFLAGS  ?=

# Every fuzz target in fuzz/, found by name so a new target is fuzzed without
# editing this file.
FUZZ_TARGETS = $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' fuzz/*_test.go 2>/dev/null | sed 's/^func //')

.PHONY: all build run test vet unit test-deploy fuzz-short fuzz bench clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null) -X main.commit=$$(git rev-parse --short HEAD 2>/dev/null)" -o bin/sluice ./cmd/sluice

run: build
	./bin/sluice $(RUNFLAGS)

test: vet unit test-deploy fuzz-short

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: not formatted: $$unformatted"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 8m ./...

# deploy/ is a module of its own, so that the Kubernetes API types its tests
# decode the manifests into stay out of sluice's go.mod; ./... above does not
# reach it.
test-deploy:
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...

fuzz-short:
	GO=$(GO) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) fuzz/run.sh $(TESTFUZZTIME) $(FUZZ_TARGETS)

fuzz:
	GO=$(GO) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) fuzz/run.sh $(FUZZTIME) $(FUZZ_TARGETS)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...

clean:
	rm -rf bin

# Peer comparison (bench/peers/README.md). Install the peers once with
#   sudo bench/peers/install.sh
# then `make peers` (as root: squid, ATS and tinyproxy need it) runs sluice,
# nginx, HAProxy, Squid, tinyproxy, ATS, a net/http baseline, an L4 relay
# (HAProxy mode tcp, the ceiling for any proxy hop) and direct on
# loopback (~4 min) into bench/peers/results/. PEERSFLAGS go to run-peers.sh
# (e.g. PEERSFLAGS='-d 5 -P "direct sluice-gnet sluice-netpoll haproxy"').
# `make chart` draws the newest bench/peers/results/scaling-*.tsv (from
# bench/peers/run-scaling.sh) as bench/peers/results/scaling.svg (+ .png when
# rsvg-convert is installed).
PEERSFLAGS ?=
CHARTFLAGS ?=
CHARTOUT   ?= bench/peers/results/scaling.svg

.PHONY: peers chart

peers: build
	bench/peers/run-peers.sh $(PEERSFLAGS)

chart:
	$(GO) run ./bench/chart -out $(CHARTOUT) $(CHARTFLAGS)
	@if command -v rsvg-convert >/dev/null; then \
		rsvg-convert -o $(CHARTOUT:.svg=.png) $(CHARTOUT) && echo "chart: $(CHARTOUT:.svg=.png)"; \
	else echo "chart: rsvg-convert not installed (apt-get install librsvg2-bin) - SVG only"; fi

# Container images: $(IMAGE):$(IMAGE_TAG) (the proxy) and
# $(IMAGE)-iptables:$(IMAGE_TAG) (the sidecar's init container), with the
# first of docker, podman and buildah that works (IMAGE_BUILDER picks one);
# version and commit stamped as by `make build`. Fails, saying why, when no
# builder works. deploy/README.md shows how to run them.
IMAGE     ?= sluice
IMAGE_TAG ?= dev

.PHONY: image

image:
	IMAGE=$(IMAGE) IMAGE_TAG=$(IMAGE_TAG) deploy/image.sh
