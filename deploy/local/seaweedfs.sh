#!/usr/bin/env bash
# Builds SeaweedFS (github.com/seaweedfs/seaweedfs, Apache-2.0), whose S3 gateway the tests of
# the citizen reports' photo store run against, from its Go module at a pinned version, never a
# downloaded binary:
#
#   deploy/local/seaweedfs.sh build   build it once into .data/tools/seaweedfs-<version>/weed
#   deploy/local/seaweedfs.sh path    print where the binary is (building it first if missing)
#
# The tests start their own server from this binary (internal/testenv); `make test` builds it
# through services.sh. The first build downloads SeaweedFS's dependencies through the Go module
# proxy and takes a few minutes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
who=seaweedfs
# shellcheck source=deploy/local/lib.sh
. "$here/lib.sh"

# SeaweedFS publishes no module versions the proxy lists: a pinned pseudo-version of its main
version=v0.0.0-20261109003541-7506e5f91cd6
out=$repo/.data/tools/seaweedfs-$version
bin=$out/weed
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

build() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || die "go is not installed"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  say "building SeaweedFS $version from its Go module (once; a few minutes)"
  # a throw-away module that requires the pinned version
  printf 'module ioc.local/seaweedfs-build\n\ngo 1.25\n\nrequire github.com/seaweedfs/seaweedfs %s\n' "$version" >"$work/go.mod"
  mkdir -p "$out"
  (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" github.com/seaweedfs/seaweedfs/weed) ||
    die "SeaweedFS did not build (github.com/seaweedfs/seaweedfs@$version through the Go module proxy)"
  mv "$bin.tmp" "$bin"
  say "built $bin"
}

case ${1:-} in
build) build ;;
path) build && echo "$bin" ;;
*) die "usage: $0 build|path" ;;
esac
