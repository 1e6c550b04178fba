#!/usr/bin/env bash
# Compares `customs sbom` with Syft on one image: wall time, peak RSS
# (/usr/bin/time -f) and packages per ecosystem (purl type), as ratios
# customs/Syft, then the packages only one of them found.
#   bench/languages.sh [REF]    REF: a ref name in the corpus layout (default: each in turn)
# Each remaining difference is printed with its reason from
# bench/languages-known.tsv; the script exits 1 if any is unexplained.
# Syft comes from PATH or $TOOLS_CACHE (~/.cache/customs-tools; build it with
# bench/build-peers.sh syft). Without Syft only customs' numbers are printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ $# -eq 0 ]; then # every image in the corpus layout, one after another
  rc=0
  for r in $(corpus_refs); do
    "$0" "$r" || rc=1; echo
  done
  exit $rc
fi
REF=$1

build_customs
SYFT=$(find_tool syft)
# Syft reads an OCI layout holding one image.
one_layout "$REF" "$T/one"

run() { # name out cmd...: runs once to warm the page cache, then measured
  local name=$1 out=$2; shift 2
  "$@" >/dev/null 2>&1 || true
  /usr/bin/time -f "%e %M" -o "$T/$name.time" "$@" >"$T/$name.log" 2>&1 || { echo "$name failed: $(tail -3 "$T/$name.log")"; return 1; }
  [ -s "$out" ] || { echo "$name wrote nothing"; return 1; }
}
run customs "$T/customs.cdx.json" "$T/customs" sbom "oci:$LAYOUT:$REF" -f cyclonedx -o "$T/customs.cdx.json"
have_syft=0
if [ -n "$SYFT" ]; then
  SYFT_CHECK_FOR_APP_UPDATE=false run syft "$T/syft.cdx.json" "$SYFT" scan "oci-dir:$T/one" -q -o "cyclonedx-json=$T/syft.cdx.json" && have_syft=1
else
  echo "Syft not found (PATH or $TOOLS); build it with bench/build-peers.sh syft"
fi

python3 - "$T" "$have_syft" "$REF" "$ROOT/bench/languages-known.tsv" <<'PY'
import json, sys, re, collections, urllib.parse
T, have_syft, ref, known_file = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
def purls(f):
    out = set()
    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "purl" and isinstance(v, str): out.add(v)
                else: walk(v)
        elif isinstance(x, list):
            for v in x: walk(v)
    walk(json.load(open(f)))
    return out
def key(p):  # type, name, version without qualifiers, as both tools spell them
    m = re.match(r"pkg:([^/]+)/([^@?#]+)@([^?#]+)", p)
    if not m: return None
    t, n, v = m.group(1), urllib.parse.unquote(m.group(2)), urllib.parse.unquote(m.group(3))
    if t == "deb": n = n.split("/", 1)[-1]
    if t == "pypi": n = re.sub(r"[-_.]+", "-", n).lower()
    if t == "golang" and n == "stdlib": v = v.lstrip("v").replace("go", "")
    return t, n, v
def timing(name):
    e, m = open(f"{T}/{name}.time").read().split()
    return float(e), int(m)
tools = ["customs"] + (["syft"] if have_syft else [])
sets = {t: {k for k in map(key, purls(f"{T}/{t}.cdx.json")) if k} for t in tools}
print(f"image {ref}")
print(f"{'':10}" + "".join(f"{t:>12}" for t in tools) + ("   customs/syft" if have_syft else ""))
times = {t: timing(t) for t in tools}
for label, i, fmt in (("wall s", 0, "{:.2f}"), ("peak MiB", 1, "{:.0f}")):
    vals = [times[t][i] / (1024 if i else 1) for t in tools]
    row = f"{label:10}" + "".join(f"{fmt.format(v):>12}" for v in vals)
    if have_syft: row += f"   {vals[0] / vals[1]:.2f}" if vals[1] else "   -"
    print(row)
types = sorted({k[0] for s in sets.values() for k in s})
for ty in types:
    c = [sum(1 for k in sets[t] if k[0] == ty) for t in tools]
    row = f"{ty:10}" + "".join(f"{n:>12}" for n in c)
    if have_syft: row += f"   {c[0] / c[1]:.2f}" if c[1] else "   -"
    print(row)
known = []
for line in open(known_file):
    if line.startswith("#") or not line.strip(): continue
    side, ty, name, version, reason = line.rstrip("\n").split("\t", 4)
    known.append((side, ty, re.compile(name), re.compile(version), reason))
def reason(side, k):
    for s, ty, name, version, why in known:
        if s == side and ty == k[0] and name.fullmatch(k[1]) and version.fullmatch(k[2]):
            return why
    return None
unexplained = 0
if have_syft:
    for a, b in (("customs", "syft"), ("syft", "customs")):
        only = sorted(sets[a] - sets[b])
        print(f"\nonly {a} ({len(only)}):")
        for k in only[:40]:
            why = reason(a, k)
            unexplained += why is None
            print("  " + " ".join(k) + "\n      " + (why or "UNEXPLAINED"))
        if len(only) > 40: print(f"  ... {len(only) - 40} more")
        unexplained += max(0, len(only) - 40)
    print(f"\n{unexplained} unexplained difference(s)")
sys.exit(1 if unexplained else 0)
PY
