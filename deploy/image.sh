#!/usr/bin/env bash
# image.sh: build sluice's container images from the Dockerfile (`make image`).
#
#   deploy/image.sh    ->  $IMAGE:$IMAGE_TAG (the proxy) and
#                          $IMAGE-iptables:$IMAGE_TAG (the sidecar's init container)
#
# The builder is the first of docker, podman and buildah that answers `info`
# (a docker client without a running daemon does not), or IMAGE_BUILDER. With
# none, it says what it tried and exits 1: an image is never silently missing.
#
# Environment (defaults in brackets):
#   IMAGE          image name, with its registry if any [sluice]
#   IMAGE_TAG      tag of both images [dev]
#   VERSION        stamped into the binary, as `make build` does
#                  [git describe --always --dirty]
#   COMMIT         likewise [git rev-parse --short HEAD]
#   IMAGE_BUILDER  docker, podman or buildah: skip the search [first that works]
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-sluice}
IMAGE_TAG=${IMAGE_TAG:-dev}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || true)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || true)}

# works BUILDER: BUILDER is installed and can build now. Its reason when not
# goes to $why.
why=""
works() {
	local out
	if ! command -v "$1" >/dev/null 2>&1; then
		why+="  $1: not installed"$'\n'
		return 1
	fi
	if ! out=$("$1" info 2>&1 >/dev/null); then
		why+="  $1: installed, but \`$1 info\` fails: $(printf '%s' "$out" | grep -v '^$' | tail -n 1)"$'\n'
		return 1
	fi
}

builder=""
for b in ${IMAGE_BUILDER:-docker podman buildah}; do
	if works "$b"; then
		builder=$b
		break
	fi
done
if [[ -z $builder ]]; then
	{
		echo "image: no container builder works here:"
		printf '%s' "$why"
		echo "image: start the Docker daemon, or install podman or buildah (both run without a daemon);"
		echo "image: IMAGE_BUILDER=NAME picks one. The Dockerfile builds the binary with:"
		echo "image:   CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w -X main.version=$VERSION -X main.commit=$COMMIT\" ./cmd/sluice"
	} >&2
	exit 1
fi

build() { # build TARGET TAG
	echo "image: $builder build --target $1 -t $2" >&2
	"$builder" build --target "$1" -t "$2" \
		--build-arg "VERSION=${VERSION:-devel}" --build-arg "COMMIT=${COMMIT:-unknown}" \
		-f Dockerfile .
}
build sluice "$IMAGE:$IMAGE_TAG"
build iptables "$IMAGE-iptables:$IMAGE_TAG"
echo "image: built $IMAGE:$IMAGE_TAG and $IMAGE-iptables:$IMAGE_TAG (version ${VERSION:-devel}, commit ${COMMIT:-unknown}) with $builder" >&2
