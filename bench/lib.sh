# Shared by the bench/*.sh scripts (sourced): where things are, the peers,
# the corpus images, timed runs and the ratio table.
export GOTOOLCHAIN=local
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/../shared/corpus}
TOOLS=${TOOLS_CACHE:-$HOME/.cache/customs-tools}
RUNS=${RUNS:-3}
LAYOUT=$CORPUS/images/oci
[ -f "$LAYOUT/index.json" ] || { echo "no corpus layout at $LAYOUT (set CORPUS)"; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (GNU time)"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# find_tool NAME: the peer on PATH or in the tool cache, or nothing.
find_tool() { command -v "$1" 2>/dev/null || { [ -x "$TOOLS/$1" ] && echo "$TOOLS/$1"; } || true; }

# build_customs: this checkout's customs at $T/customs.
build_customs() { (cd "$ROOT" && go build -trimpath -o "$T/customs" ./cmd/customs); }

# corpus_refs: the ref names of the images in the corpus layout.
corpus_refs() {
  python3 -c 'import json,sys; [print(m["annotations"]["org.opencontainers.image.ref.name"]) for m in json.load(open(sys.argv[1]))["manifests"]]' "$LAYOUT/index.json"
}

# one_layout REF DIR: an OCI layout holding only REF (blobs shared by
# symlink), for peers that read a layout with one image.
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

# measure REF TOOL OUT CMD...: one warm-up run (page cache), then RUNS timed
# runs, each appending "REF TOOL wall-s peak-KiB count" to $T/results, where
# count is what `$COUNT OUT` prints. Success is judged by the report, not the
# exit status: scanners exit 1 when they find something.
measure() {
  local ref=$1 tool=$2 out=$3 i; shift 3
  rm -f "$out"
  "$@" >"$T/log" 2>&1 || [ -s "$out" ] || { echo "$tool on $ref failed: $(tail -3 "$T/log")"; return 0; }
  for i in $(seq "$RUNS"); do
    rm -f "$out"
    # Wall time to the millisecond (GNU time's %e has 10 ms steps, 15% of
    # a small image's scan); the same fork and exec of time in every tool's.
    local t0 t1; t0=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$T/time" "$@" >"$T/log" 2>&1 || true
    t1=$(date +%s%N)
    [ -s "$out" ] || { echo "$tool on $ref wrote nothing: $(tail -3 "$T/log")"; return 0; }
    printf '%s %s %d.%03d %s %s\n' "$ref" "$tool" $(( (t1 - t0) / 1000000000 )) $(( (t1 - t0) / 1000000 % 1000 )) \
      "$(tail -1 "$T/time")" "$($COUNT "$out")" >>"$T/results"
  done
}

# report WHAT TOOL...: the medians per image and tool, and customs/peer ratios.
report() {
  [ -s "$T/results" ] || { echo "nothing measured"; return 1; }
  python3 - "$T/results" "$@" <<'PY'
import collections, statistics, sys
what, order = sys.argv[2], sys.argv[3:]
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    ref, tool, wall, kib, n = line.split()
    runs[ref, tool].append((float(wall), int(kib) / 1024, int(n)))
refs = list(dict.fromkeys(r for r, _ in runs))
tools = [t for t in order if any(t == u for _, u in runs)]
med = {k: (statistics.median(w for w, _, _ in v), statistics.median(m for _, m, _ in v), v[0][2]) for k, v in runs.items()}
print(f"median of {max(len(v) for v in runs.values())} runs; wall s / peak MiB / {what}")
print(f"{'image':12}" + "".join(f"{t:>24}" for t in tools) + "".join(f"{'customs/' + t:>24}" for t in tools[1:]))
for ref in refs:
    row = f"{ref:12}"
    for t in tools:
        w, m, n = med.get((ref, t), (0, 0, 0))
        row += f"{w:>9.3f} s {m:>6.0f} MiB {n:>4}" if (ref, t) in med else f"{'-':>24}"
    for t in tools[1:]:
        if (ref, t) in med and (ref, "customs") in med:
            c, p = med[ref, "customs"], med[ref, t]
            row += f"{'':7}{c[0] / p[0]:>6.2f}x {c[1] / p[1]:>6.2f}x mem"
        else:
            row += f"{'-':>24}"
    print(row)
for (ref, t), (w, m, n) in sorted(med.items()):
    if t != "customs" and n == 0 and med.get((ref, "customs"), (0, 0, 0))[2] > 0:
        print(f"note: {t} reported no {what} on {ref}, customs some: its time leaves that work out")
PY
}
