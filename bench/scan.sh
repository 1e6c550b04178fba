#!/usr/bin/env bash
# Compares `customs scan` end to end with osv-scanner, Trivy and Grype on the
# corpus images, in one run: wall time and peak RSS (GNU /usr/bin/time), the
# median of RUNS runs after one warm-up, as ratios customs/peer, plus how many
# vulnerability ids each tool reports.
#   bench/scan.sh [REF...]     REF: ref names in the corpus layout (default: debian-app)
#
# Every tool gets the same advisory records where it can: customs and
# osv-scanner read the corpus's OSV records (../shared/corpus/advisories),
# customs from a database imported once, osv-scanner from per-ecosystem
# all.zip files in its offline layout. Trivy and Grype only read their own
# vendor databases, which are downloaded from the internet (ghcr.io,
# grype.anchore.io); nothing but loopback is reachable here, so they run only
# when such a database is already present: TRIVY_CACHE_DIR holding db/trivy.db,
# GRYPE_DB_CACHE_DIR holding a grype database. Their finding counts then come
# from different (fuller) data and are shown for information only.
# Peers come from PATH or $TOOLS_CACHE (~/.cache/customs-tools; bench/build-peers.sh).
set -euo pipefail
export GOTOOLCHAIN=local
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/../shared/corpus}
TOOLS=${TOOLS_CACHE:-$HOME/.cache/customs-tools}
RUNS=${RUNS:-3}
LAYOUT=$CORPUS/images/oci
ADV=$CORPUS/advisories
[ -f "$LAYOUT/index.json" ] || { echo "no corpus layout at $LAYOUT (set CORPUS)"; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (GNU time)"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
[ $# -gt 0 ] || set -- debian-app

find_tool() { command -v "$1" 2>/dev/null || { [ -x "$TOOLS/$1" ] && echo "$TOOLS/$1"; } || true; }
(cd "$ROOT" && go build -trimpath -o "$T/customs" ./cmd/customs)
OSV=$(find_tool osv-scanner); TRIVY=$(find_tool trivy); GRYPE=$(find_tool grype)
[ -n "$OSV" ] || echo "osv-scanner not found: skipped (bench/build-peers.sh osv)"
if [ -n "$TRIVY" ] && [ ! -f "${TRIVY_CACHE_DIR:-/nonexistent}/db/trivy.db" ]; then
  echo "Trivy skipped: it needs its vendor database (TRIVY_CACHE_DIR/db/trivy.db), which cannot be downloaded here"; TRIVY=
fi
if [ -n "$GRYPE" ] && [ -z "${GRYPE_DB_CACHE_DIR:-}" ]; then
  echo "Grype skipped: it needs its vendor database (GRYPE_DB_CACHE_DIR), which cannot be downloaded here"; GRYPE=
fi
export TRIVY_DISABLE_VEX_NOTICE=true GRYPE_CHECK_FOR_APP_UPDATE=false GRYPE_DB_AUTO_UPDATE=false GRYPE_DB_VALIDATE_AGE=false

# The same OSV records for customs (one import) and osv-scanner (its offline
# layout: DIR/osv-scalibr/ECOSYSTEM/all.zip, the ecosystem spelled as in the records;
# osv-scanner before v2.1 looked in DIR/osv-scanner).
"$T/customs" db import --db "$T/customs.db" -q "$ADV" >/dev/null
python3 - "$ADV" "$T/osvdb/osv-scalibr" <<'PY'
import json, os, sys, zipfile, collections
src, dst = sys.argv[1:]
by_eco = collections.defaultdict(dict)
for d, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".json"): continue
        try: rec = json.load(open(os.path.join(d, f)))
        except Exception: continue
        if not isinstance(rec, dict) or "affected" not in rec or "id" not in rec: continue
        for a in rec.get("affected") or []:
            eco = (a.get("package") or {}).get("ecosystem", "")
            if eco: by_eco[eco.split(":")[0]][rec["id"]] = rec
for eco, recs in by_eco.items():
    os.makedirs(os.path.join(dst, eco), exist_ok=True)
    with zipfile.ZipFile(os.path.join(dst, eco, "all.zip"), "w") as z:
        for i, r in recs.items(): z.writestr(i + ".json", json.dumps(r))
PY
ln -s osv-scalibr "$T/osvdb/osv-scanner"

# osv-scanner and Grype read `docker save` archives: write one per REF from the layout.
docker_archive() {
  python3 - "$LAYOUT" "$1" "$2" <<'PY'
import json, os, sys, tarfile
src, ref, out = sys.argv[1:]
blob = lambda d: os.path.join(src, "blobs", *d.split(":"))
idx = json.load(open(os.path.join(src, "index.json")))
m = [d for d in idx["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
if not m: sys.exit(f"no image {ref} in {src}")
man = json.load(open(blob(m[0]["digest"])))
import gzip, io, shutil, tempfile
# Layers go in uncompressed, as `docker save` writes them (some readers
# accept nothing else).
with tarfile.open(out, "w") as t:
    cfg = man["config"]["digest"]
    t.add(blob(cfg), arcname=cfg.replace(":", "/"))
    layers = []
    for l in man["layers"]:
        with open(blob(l["digest"]), "rb") as f, tempfile.TemporaryFile() as tmp:
            gz = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            shutil.copyfileobj(gzip.GzipFile(fileobj=f) if gz else f, tmp, 1 << 20)
            size = tmp.tell(); tmp.seek(0)
            name = l["digest"].replace(":", "/") + ".tar"
            info = tarfile.TarInfo(name); info.size = size
            t.addfile(info, tmp)
            layers.append(name)
    data = json.dumps([{"Config": cfg.replace(":", "/"), "RepoTags": [f"{ref}:latest"], "Layers": layers}]).encode()
    info = tarfile.TarInfo("manifest.json"); info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
}

measure() { # ref tool out cmd...: one warm-up, then RUNS timed runs; appends "ref tool wall kib ids"
  local ref=$1 tool=$2 out=$3; shift 3
  "$@" >"$T/log" 2>&1 || [ -s "$out" ] || { echo "$tool on $ref failed: $(tail -3 "$T/log")"; return 0; }
  local i
  for i in $(seq "$RUNS"); do
    rm -f "$out"
    # Scanners exit 1 when they find vulnerabilities: judge success by the report.
    /usr/bin/time -f "%e %M" -o "$T/time" "$@" >"$T/log" 2>&1 || true
    [ -s "$out" ] || { echo "$tool on $ref wrote nothing: $(tail -3 "$T/log")"; return 0; }
    echo "$ref $tool $(tail -1 "$T/time") $(python3 "$T/ids.py" "$out")" >>"$T/results"
  done
}
cat >"$T/ids.py" <<'PY'
import json, re, sys
# Distinct vulnerability ids anywhere in a report (CVE, GHSA, GO-, DSA, ...).
ids = set(re.findall(r'"((?:CVE|GHSA|GO|DSA|DLA|RUSTSEC|PYSEC|ALPINE)-[0-9A-Za-z-]+)"', open(sys.argv[1]).read()))
print(len(ids))
PY

for ref in "$@"; do
  docker_archive "$ref" "$T/$ref.tar"
  measure "$ref" customs "$T/c.json" "$T/customs" scan "oci:$LAYOUT:$ref" --db "$T/customs.db" -q -f json -o "$T/c.json"
  [ -z "$OSV" ] || measure "$ref" osv-scanner "$T/o.json" "$OSV" scan image --archive "$T/$ref.tar" \
      --offline --local-db-path "$T/osvdb" --format json --output-file "$T/o.json"
  [ -z "$TRIVY" ] || measure "$ref" trivy "$T/t.json" "$TRIVY" image --input "$T/$ref.tar" --cache-backend memory \
      --skip-db-update --skip-java-db-update --offline-scan --skip-version-check --scanners vuln -q -f json -o "$T/t.json"
  [ -z "$GRYPE" ] || measure "$ref" grype "$T/g.json" "$GRYPE" "docker-archive:$T/$ref.tar" -q -o json --file "$T/g.json"
done

python3 - "$T/results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    ref, tool, wall, kib, ids = line.split()
    runs[ref, tool].append((float(wall), int(kib) / 1024, int(ids)))
refs = list(dict.fromkeys(r for r, _ in runs))
tools = [t for t in ("customs", "osv-scanner", "trivy", "grype") if any(t == u for _, u in runs)]
med = {k: (statistics.median(w for w, _, _ in v), statistics.median(m for _, m, _ in v), v[0][2]) for k, v in runs.items()}
print(f"median of {max(len(v) for v in runs.values())} runs; wall s / peak MiB / vulnerability ids reported")
print(f"{'image':12}" + "".join(f"{t:>24}" for t in tools) + "".join(f"{'customs/' + t:>24}" for t in tools[1:]))
for ref in refs:
    row = f"{ref:12}"
    for t in tools:
        w, m, n = med.get((ref, t), (0, 0, 0))
        row += f"{w:>9.2f} s {m:>6.0f} MiB {n:>4}" if (ref, t) in med else f"{'-':>24}"
    for t in tools[1:]:
        if (ref, t) in med and (ref, "customs") in med:
            c, p = med[ref, "customs"], med[ref, t]
            row += f"{'':7}{c[0] / p[0]:>6.2f}x {c[1] / p[1]:>6.2f}x mem"
        else:
            row += f"{'-':>24}"
    print(row)
for (ref, t), (w, m, n) in sorted(med.items()):
    if t != "customs" and n == 0 and med.get((ref, "customs"), (0, 0, 0))[2] > 0:
        print(f"note: {t} reported no vulnerability on {ref}: it matched nothing from these records, so its time leaves matching out")
PY
