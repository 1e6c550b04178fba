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
. "$(dirname "$0")/lib.sh"

build_customs
SYFT=$(find_tool syft); TRIVY=$(find_tool trivy)
[ -n "$SYFT" ] || echo "Syft not found (PATH or $TOOLS): skipped; bench/build-peers.sh syft builds it"
[ -n "$TRIVY" ] || echo "Trivy not found (PATH or $TOOLS): skipped; bench/build-peers.sh trivy builds it"
export SYFT_CHECK_FOR_APP_UPDATE=false TRIVY_DISABLE_VEX_NOTICE=true
[ $# -gt 0 ] || set -- $(corpus_refs)

cat >"$T/count.py" <<'PY'
import json, sys
print(len(json.load(open(sys.argv[1])).get("components") or []))
PY
COUNT="python3 $T/count.py"

for ref in "$@"; do
  one_layout "$ref" "$T/$ref"
  measure "$ref" customs "$T/c.json" "$T/customs" sbom "oci:$LAYOUT:$ref" -q -f cyclonedx -o "$T/c.json"
  [ -z "$SYFT" ] || measure "$ref" syft "$T/s.json" "$SYFT" scan "oci-dir:$T/$ref" -q -o "cyclonedx-json=$T/s.json"
  [ -z "$TRIVY" ] || measure "$ref" trivy "$T/t.json" "$TRIVY" image --input "$T/$ref" --cache-backend memory \
      --cache-dir "$T/trivy-cache" --skip-db-update --skip-java-db-update --offline-scan --skip-version-check \
      --format cyclonedx -q -o "$T/t.json"
done
report components customs syft trivy
