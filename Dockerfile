# sluice's container images (make image builds both):
#
#   sluice           the proxy: a static binary on distroless/static, as UID 65532
#   sluice-iptables  deploy/iptables.sh on Alpine, for the sidecar's init container
#                    (docker build --target iptables)
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t sluice:dev .
#
# VERSION and COMMIT are stamped the way `make build` stamps them: .git stays
# out of the build context (.dockerignore), so the builder cannot ask git.

# The build runs on the builder's own platform and cross-compiles for the
# target's (TARGETOS/TARGETARCH, set by BuildKit, podman and buildah): no
# emulation for multi-platform images.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG COMMIT=unknown
ARG TARGETOS
ARG TARGETARCH
# CGO_ENABLED=0: a static binary, for an image with no libc. -trimpath keeps
# the builder's paths out of it.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
    -o /out/sluice ./cmd/sluice

# The sidecar's init container: iptables (nf_tables, needs only NET_ADMIN)
# and bash for deploy/iptables.sh. It runs once per pod start and exits.
FROM alpine:3.22 AS iptables
RUN apk add --no-cache bash iptables ip6tables
COPY deploy/iptables.sh /usr/local/bin/sluice-iptables
ENTRYPOINT ["/usr/local/bin/sluice-iptables"]

# The proxy. distroless/static has no shell and no package manager, and does
# have CA certificates (for TLS to origins), /etc/passwd with the nonroot
# user (65532) and tzdata. The last stage: what a plain `docker build` makes.
FROM gcr.io/distroless/static-debian12:nonroot AS sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
# Numeric, so that Kubernetes' runAsNonRoot can check it without /etc/passwd.
USER 65532:65532
# 3128: proxy; 9901: admin (/livez, /readyz, /metrics). 15001, the sidecar's
# transparent listener, is on loopback and needs no EXPOSE.
EXPOSE 3128 9901
ENTRYPOINT ["/usr/local/bin/sluice"]
# The binary's defaults listen on 127.0.0.1, out of reach from outside the
# container; these listen on every address. Clients are still refused unless
# the config's policy.client_cidrs admits them (loopback only by default).
# Arguments given to `docker run` or in a pod's args replace these.
CMD ["-listen", ":3128", "-admin", ":9901"]
