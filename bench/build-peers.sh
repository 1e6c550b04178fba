#!/usr/bin/env bash
# Builds the peer tools the benchmarks compare against (Trivy, Syft, Grype,
# osv-scanner) into a cache outside the repository, once. `go install` fails
# for Trivy and Syft here, so each is built from a copy of its module.
#   bench/build-peers.sh [trivy] [syft] [grype] [osv]   (default: all)
set -euo pipefail
TOOLS=${TOOLS_CACHE:-$HOME/.cache/customs-tools}
mkdir -p "$TOOLS"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

module_copy() { # module@version -> writable copy of its source
  local dir; dir=$(go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  local dst; dst=$(mktemp -d); cp -r "$dir"/. "$dst"; chmod -R u+w "$dst"; echo "$dst"
}

build_trivy() {
  [ -x "$TOOLS/trivy" ] && return
  local src; src=$(module_copy github.com/aquasecurity/trivy@v0.74.0)
  (cd "$src" && GOEXPERIMENT=jsonv2 go build -o "$TOOLS/trivy" ./cmd/trivy)
  rm -rf "$src"
}

build_syft() {
  [ -x "$TOOLS/syft" ] && return
  local src; src=$(module_copy github.com/anchore/syft@v1.57.0)
  # Some days the proxy refuses a few of Syft's dependency archives (403);
  # then take the neighbouring versions.
  (cd "$src" && go build -o "$TOOLS/syft" ./cmd/syft) || (cd "$src" && go mod edit \
      -replace github.com/docker/cli=github.com/docker/cli@v29.9.3+incompatible \
      -replace github.com/github/go-spdx/v2=github.com/github/go-spdx/v2@v2.7.0 \
    && go build -o "$TOOLS/syft" ./cmd/syft)
  rm -rf "$src"
}

build_grype() {
  [ -x "$TOOLS/grype" ] && return
  GOBIN=$TOOLS go install github.com/anchore/grype/cmd/grype@v0.121.2 || echo "grype: go install failed; benchmarks will skip it"
}

build_osv() {
  [ -x "$TOOLS/osv-scanner" ] && return
  GOBIN=$TOOLS go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.5.0 || echo "osv-scanner: go install failed; benchmarks will skip it"
}

for t in "${@:-trivy syft grype osv}"; do for x in $t; do "build_$x"; done; done
ls -la "$TOOLS"
