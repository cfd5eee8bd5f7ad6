#!/usr/bin/env bash
# Builds MediaMTX (github.com/bluenviron/mediamtx, the media server that re-streams the cameras
# to browsers) from its Go module at a pinned version, never a downloaded binary:
#
#   deploy/local/mediamtx.sh build   build it once into .data/tools/mediamtx-<version>/mediamtx
#   deploy/local/mediamtx.sh path    print where the binary is (building it first if missing)
#
# The module's zip lacks two files its `go generate` downloads: VERSION (written here) and
# hls.js, the player its HLS pages embed, taken from the npm registry at the version MediaMTX
# pins (internal/servers/hls/hlsjsdownloader/VERSION). The tests start their own MediaMTX from
# this binary (internal/testenv); `make test` and `make demo` build it through services.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
who=mediamtx
# shellcheck source=deploy/local/lib.sh
. "$here/lib.sh"

version=v1.15.3
out=$repo/.data/tools/mediamtx-$version
bin=$out/mediamtx
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

build() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || die "go is not installed"
  command -v npm >/dev/null || die "npm is needed for MediaMTX's hls.js (apt-get install npm)"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  say "building MediaMTX $version from its Go module (once; a few minutes)"
  # a throw-away module that requires the pinned version: the proxy lists no versions, so a
  # plain `go install …@version` is refused
  mkdir -p "$work/dl"
  printf 'module ioc.local/mediamtx-build\n\ngo 1.25\n\nrequire github.com/bluenviron/mediamtx %s\n' "$version" >"$work/dl/go.mod"
  (cd "$work/dl" && GOFLAGS=-mod=mod go mod download -json github.com/bluenviron/mediamtx >"$work/dl.json") ||
    die "could not download github.com/bluenviron/mediamtx@$version through the Go module proxy"
  local src
  src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$work/dl.json")
  [ -d "$src" ] || die "MediaMTX's module source not found after the download"
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  echo "$version" >"$work/src/internal/core/VERSION"
  local hls
  hls=$(cat "$work/src/internal/servers/hls/hlsjsdownloader/VERSION")
  (cd "$work" && npm pack --silent "hls.js@${hls#v}" >/dev/null 2>&1 && tar xzf "hls.js-${hls#v}.tgz") ||
    die "could not fetch hls.js ${hls} from the npm registry"
  cp "$work/package/dist/hls.min.js" "$work/src/internal/servers/hls/hls.min.js"
  mkdir -p "$out"
  (cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" .) || die "MediaMTX did not build"
  mv "$bin.tmp" "$bin"
  say "built $bin"
}

case ${1:-} in
build) build ;;
path) build && echo "$bin" ;;
*) die "usage: $0 build|path" ;;
esac
