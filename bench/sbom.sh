#!/usr/bin/env bash
# Compares `customs sbom` with Syft and Trivy on the corpus images, in one run:
# wall time and peak RSS (GNU /usr/bin/time), the median of RUNS runs each after
# one warm-up run (so every tool reads the layers from the page cache), printed
# as ratios customs/peer. Trivy runs with --cache-backend memory, so it keeps no
# layer cache between runs; customs and Syft keep none either.
#   bench/sbom.sh [REF...]    REF: ref names in the corpus layout (default: all)
#   RUNS=5 bench/sbom.sh debian-app
# Peers come from PATH or $TOOLS_CACHE (~/.cache/customs-tools; build them with
# bench/build-peers.sh trivy syft). A peer that is not found is skipped.
set -euo pipefail
export GOTOOLCHAIN=local
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/../shared/corpus}
TOOLS=${TOOLS_CACHE:-$HOME/.cache/customs-tools}
RUNS=${RUNS:-3}
LAYOUT=$CORPUS/images/oci
[ -f "$LAYOUT/index.json" ] || { echo "no corpus layout at $LAYOUT (set CORPUS)"; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (GNU time)"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

find_tool() { command -v "$1" 2>/dev/null || { [ -x "$TOOLS/$1" ] && echo "$TOOLS/$1"; } || true; }
(cd "$ROOT" && go build -trimpath -o "$T/customs" ./cmd/customs)
SYFT=$(find_tool syft); TRIVY=$(find_tool trivy)
[ -n "$SYFT" ] || echo "Syft not found (PATH or $TOOLS): skipped; bench/build-peers.sh syft builds it"
[ -n "$TRIVY" ] || echo "Trivy not found (PATH or $TOOLS): skipped; bench/build-peers.sh trivy builds it"
export SYFT_CHECK_FOR_APP_UPDATE=false TRIVY_DISABLE_VEX_NOTICE=true

if [ $# -eq 0 ]; then
  set -- $(python3 -c 'import json,sys; [print(m["annotations"]["org.opencontainers.image.ref.name"]) for m in json.load(open(sys.argv[1]))["manifests"]]' "$LAYOUT/index.json")
fi

# Syft and Trivy read an OCI layout holding one image: make one per REF (blobs shared by symlink).
one_layout() {
  python3 - "$LAYOUT" "$1" "$2" <<'PY'
import json, os, sys
src, ref, dst = sys.argv[1:]
idx = json.load(open(os.path.join(src, "index.json")))
m = [d for d in idx["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
if not m: sys.exit(f"no image {ref} in {src}")
os.makedirs(dst)
os.symlink(os.path.join(os.path.abspath(src), "blobs"), os.path.join(dst, "blobs"))
json.dump({"schemaVersion": 2, "manifests": m}, open(os.path.join(dst, "index.json"), "w"))
open(os.path.join(dst, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
}

measure() { # ref tool out cmd...: one warm-up, then RUNS timed runs; appends "ref tool wall kib pkgs"
  local ref=$1 tool=$2 out=$3; shift 3
  "$@" >"$T/log" 2>&1 || { echo "$tool on $ref failed: $(tail -3 "$T/log")"; return 0; }
  local i
  for i in $(seq "$RUNS"); do
    rm -f "$out"
    /usr/bin/time -f "%e %M" -o "$T/time" "$@" >"$T/log" 2>&1 || { echo "$tool on $ref failed: $(tail -3 "$T/log")"; return 0; }
    [ -s "$out" ] || { echo "$tool on $ref wrote nothing"; return 0; }
    echo "$ref $tool $(cat "$T/time") $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("components") or []))' "$out")" >>"$T/results"
  done
}

for ref in "$@"; do
  one_layout "$ref" "$T/$ref"
  measure "$ref" customs "$T/c.json" "$T/customs" sbom "oci:$LAYOUT:$ref" -q -f cyclonedx -o "$T/c.json"
  [ -z "$SYFT" ] || measure "$ref" syft "$T/s.json" "$SYFT" scan "oci-dir:$T/$ref" -q -o "cyclonedx-json=$T/s.json"
  [ -z "$TRIVY" ] || measure "$ref" trivy "$T/t.json" "$TRIVY" image --input "$T/$ref" --cache-backend memory \
      --cache-dir "$T/trivy-cache" --skip-db-update --skip-java-db-update --offline-scan --skip-version-check \
      --format cyclonedx -q -o "$T/t.json"
done

python3 - "$T/results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    ref, tool, wall, kib, pkgs = line.split()
    runs[ref, tool].append((float(wall), int(kib) / 1024, int(pkgs)))
refs = list(dict.fromkeys(r for r, _ in runs))
tools = [t for t in ("customs", "syft", "trivy") if any(t == u for _, u in runs)]
med = {k: (statistics.median(w for w, _, _ in v), statistics.median(m for _, m, _ in v), v[0][2]) for k, v in runs.items()}
print(f"median of {max(len(v) for v in runs.values())} runs; wall s / peak MiB / components")
print(f"{'image':12}" + "".join(f"{t:>24}" for t in tools) + "".join(f"{'customs/' + t:>22}" for t in tools[1:]))
for ref in refs:
    row = f"{ref:12}"
    for t in tools:
        w, m, n = med.get((ref, t), (0, 0, 0))
        row += f"{w:>9.2f} s {m:>6.0f} MiB {n:>4}" if (ref, t) in med else f"{'-':>24}"
    for t in tools[1:]:
        if (ref, t) in med and (ref, "customs") in med:
            c, p = med[ref, "customs"], med[ref, t]
            row += f"{'':5}{c[0] / p[0]:>6.2f}x {c[1] / p[1]:>6.2f}x mem"
        else:
            row += f"{'-':>22}"
    print(row)
PY
