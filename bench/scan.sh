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
. "$(dirname "$0")/lib.sh"
ADV=$CORPUS/advisories
[ $# -gt 0 ] || set -- debian-app

build_customs
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
import gzip, io, json, os, shutil, sys, tarfile, tempfile
src, ref, out = sys.argv[1:]
blob = lambda d: os.path.join(src, "blobs", *d.split(":"))
idx = json.load(open(os.path.join(src, "index.json")))
m = [d for d in idx["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref]
if not m: sys.exit(f"no image {ref} in {src}")
man = json.load(open(blob(m[0]["digest"])))
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

cat >"$T/ids.py" <<'PY'
import json, re, sys
# Distinct vulnerability ids anywhere in a report (CVE, GHSA, GO-, DSA, ...).
ids = set(re.findall(r'"((?:CVE|GHSA|GO|DSA|DLA|RUSTSEC|PYSEC|ALPINE)-[0-9A-Za-z-]+)"', open(sys.argv[1]).read()))
print(len(ids))
PY
COUNT="python3 $T/ids.py"

for ref in "$@"; do
  docker_archive "$ref" "$T/$ref.tar"
  measure "$ref" customs "$T/c.json" "$T/customs" scan "oci:$LAYOUT:$ref" --db "$T/customs.db" -q -f json -o "$T/c.json"
  [ -z "$OSV" ] || measure "$ref" osv-scanner "$T/o.json" "$OSV" scan image --archive "$T/$ref.tar" \
      --offline --local-db-path "$T/osvdb" --format json --output-file "$T/o.json"
  [ -z "$TRIVY" ] || measure "$ref" trivy "$T/t.json" "$TRIVY" image --input "$T/$ref.tar" --cache-backend memory \
      --skip-db-update --skip-java-db-update --offline-scan --skip-version-check --scanners vuln -q -f json -o "$T/t.json"
  [ -z "$GRYPE" ] || measure "$ref" grype "$T/g.json" "$GRYPE" "docker-archive:$T/$ref.tar" -q -o json --file "$T/g.json"
done

report "vulnerability ids" customs osv-scanner trivy grype
