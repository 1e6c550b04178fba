#!/usr/bin/env python3
"""Builds dpkg_pairs.txt from this machine's apt lists (Debian 12).

Input on stdin: "package<TAB>version" lines, made with
  for f in /var/lib/apt/lists/*Packages.lz4; do lz4 -dc "$f"; done |
    awk '/^Package:/{p=$2} /^Version:/{print p"\t"$2}' | sort -u
Output: "a b" pairs, one a line. Only the pairs are committed; the order
between them comes from dpkg at test time, never from this script.
"""
import random, sys, collections

random.seed(12)
by_pkg = collections.defaultdict(set)
for line in sys.stdin:
    p, v = line.rstrip("\n").split("\t")
    by_pkg[p].add(v)
pairs = []
# Same-package neighbours: every package with several versions across
# bookworm, bookworm-updates and bookworm-security.
multi = [p for p in sorted(by_pkg) if len(by_pkg[p]) > 1]
for p in random.sample(multi, min(700, len(multi))):
    vs = sorted(by_pkg[p])
    for i in range(len(vs)):
        for j in range(i + 1, len(vs)):
            pairs.append((vs[i], vs[j]))
allv = sorted({v for vs in by_pkg.values() for v in vs})
def pick(pred, n):
    c = [v for v in allv if pred(v)]
    return random.sample(c, min(n, len(c)))
special = (pick(lambda v: ":" in v, 250) + pick(lambda v: "~" in v, 250) +
           pick(lambda v: "+deb12u" in v, 200) + pick(lambda v: "+b" in v, 200) +
           pick(lambda v: "-" not in v, 100))
# Versions that share a prefix are the interesting ones: pair each special
# version with a nearby one in string order, and with a random one.
idx = {v: i for i, v in enumerate(allv)}
for v in special:
    i = idx[v]
    pairs.append((v, allv[min(i + 1, len(allv) - 1)]))
    pairs.append((v, random.choice(allv)))
for _ in range(300):
    pairs.append(tuple(random.sample(allv, 2)))
# Each version against itself, to check equality.
for v in random.sample(allv, 50):
    pairs.append((v, v))
seen, out = set(), []
for a, b in pairs:
    if (a, b) not in seen:
        seen.add((a, b))
        out.append((a, b))
for a, b in out:
    print(a, b)
