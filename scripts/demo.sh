#!/usr/bin/env bash
# The README's main job on an embedded default, on a fresh machine in one command:
#   1. installs what is needed and builds hashmatch;
#   2. generates benign sample media (procedural / FFmpeg lavfi images and videos, transformed
#      copies, a broken file; nothing third-party): scripts/gen-samples.sh;
#   3. builds a demo hash list: 1,000,000 random PDQ hashes, plus the PDQ hashes of transformed
#      copies (resized, re-encoded, cropped, rotated) of some sample images, the vPDQ of a clip and
#      the MD5 of a few files;
#   4. scans the samples against it (`hashmatch scan`: on the GPU when there is one) and prints the
#      matches and the throughput.
# Environment: HASHMATCH_BUILD_DIR (build), HASHMATCH_SAMPLES (samples), HASHMATCH_DEMO_RANDOM
# (random list entries, default 1000000), HASHMATCH_DEMO_OUT (out).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${HASHMATCH_BUILD_DIR:-build}
SAMPLES=${HASHMATCH_SAMPLES:-samples}
OUT=${HASHMATCH_DEMO_OUT:-out}
RANDOM_ENTRIES=${HASHMATCH_DEMO_RANDOM:-1000000}
HM="$BUILD/hashmatch"
step() { printf '\n== %s\n' "$*"; }

step "build"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target hashmatch
"$HM" info

step "sample media ($SAMPLES)"
[ -d "$SAMPLES/videos" ] || bash scripts/gen-samples.sh "$SAMPLES" 3
echo "$(find "$SAMPLES" -type f | wc -l) files"

mkdir -p "$OUT"
DB="$OUT/demo.db"
if [ ! -f "$DB.ready" ] || [ "$(cat "$DB.ready")" != "$RANDOM_ENTRIES" ]; then
  step "demo list ($DB)"
  rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.ready"
  t0=$(date +%s.%N)
  # 1. Random PDQ hashes (32 random bytes each, as hex): the haystack.
  python3 -c "
import os, sys
n = int(sys.argv[1]); out = sys.stdout
for start in range(0, n, 100000):
    k = min(100000, n - start)
    h = os.urandom(32 * k).hex()
    out.write('\n'.join(h[i:i + 64] for i in range(0, len(h), 64)) + '\n')
" "$RANDOM_ENTRIES" | "$HM" list import --db "$DB" --list demo --format lines --algo pdq \
      --source random --category decoy -
  # 2. PDQ of transformed copies of 4 of the sample images: the scan must find the originals.
  {
    echo "id,algo,hash,category,source,tags"
    for b in testsrc2-0 mandelbrot-0 life-0 gradients-0; do
      for f in "$SAMPLES"/copies/"$b"-*; do
        "$HM" hash --format pdq "$f" | awk -F, -v id="$(basename "$f")" \
          '{ print "copy:" id ",pdq," $1 ",demo-copy,gen-samples,transformed-copy" }'
      done
    done
    # 3. MD5 of a few files (an image and a text file): exact matches. (`hash` exits 1 on the text
    #    file, which has no PDQ; its md5 is there all the same.)
    for f in "$(ls "$SAMPLES"/originals/cellauto-1.* | head -n 1)" "$SAMPLES/readme.txt"; do
      { "$HM" hash "$f" || true; } | python3 -c "import json,sys; j=json.loads(sys.stdin.read()); print('md5:%s,md5,%s,demo-md5,gen-samples,' % (j['path'].split('/')[-1], j['md5']))"
    done
  } > "$OUT/demo-list.csv"
  "$HM" list import --db "$DB" --list demo --format csv "$OUT/demo-list.csv"
  # 4. The vPDQ of a clip (its resized, re-encoded copy must match video-level).
  "$HM" video add --db "$DB" --list demo --id clip:testsrc2 --category demo-video "$SAMPLES/videos/testsrc2.mp4"
  t1=$(date +%s.%N)
  "$HM" list stats --db "$DB"
  python3 -c "import sys; print('list built in %.1f s' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1"
  echo "$RANDOM_ENTRIES" > "$DB.ready"
fi

step "scan"
set +e
"$HM" scan --db "$DB" --dihedral --output "$OUT/demo-scan.jsonl" --progress lines "$SAMPLES"
rc=$?
set -e

step "matches"
python3 - "$OUT/demo-scan.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for r in rows:
    ms = r.get("matches") or []
    if not ms:
        continue
    parts = []
    for m in ms:
        if m["algo"] == "pdq":
            parts.append(f"{m['id']} (pdq d={m['distance']}, {m.get('variant', 'original')})")
        elif m["algo"] == "vpdq":
            parts.append(f"{m['id']} (vpdq {m['query_match_percent']:.0f}% of frames)")
        else:
            parts.append(f"{m['id']} ({m['algo']})")
    # one line per file; repeated exact digests of one id shown once
    seen, uniq = set(), []
    for p in parts:
        if p not in seen:
            seen.add(p); uniq.append(p)
    print(f"{r['path']}\n    -> " + "; ".join(uniq))
# The planted copies against their originals: the closest of the original's 8 dihedral hashes.
by = {r["path"].split("/")[-1]: r for r in rows if "pdq" in r}
print("\noriginals vs their listed transformed copies (PDQ match: distance <= 31):")
for base in ("testsrc2-0", "mandelbrot-0", "life-0", "gradients-0"):
    o = by.get(base + ".png")
    if not o:
        continue
    for name, c in sorted(by.items()):
        if name.startswith(base + "-"):
            d = min(bin(int(h, 16) ^ int(c["pdq"], 16)).count("1") for h in o["pdq_dihedral"])
            print(f"  {base + '.png':18s} vs {name:26s} distance {d:3d}  {'match' if d <= 31 else 'no match'}")
PY

step "summary"
python3 - "$OUT/demo-scan.jsonl.summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
fails = ", ".join(f"{k} {v}" for k, v in s["failed_by_reason"].items()) or "none"
print(f"scanned {s['files']} files ({s['bytes'] / 1e6:.1f} MB): {s['images']} images, {s['videos']} videos, "
      f"{s['exact_only']} other files (exact hashes only)")
print(f"matched {s['matched']} files ({s['matches']} matches) against {s['matcher']['entries']:,} list entries "
      f"and {s['matcher'].get('videos', 0)} listed video(s); failed: {fails}")
print(f"throughput: {s['files_per_s']:.1f} files/s, {s['mb_per_s']:.1f} MB/s on {s['jobs']} workers "
      f"(PDQ: {s.get('pdq_stage') or s['pdq_backend']}; matcher: {s['matcher']['pdq_matcher'] or '-'}); "
      f"list loaded in {s.get('matcher_load_seconds', 0):.1f} s")
PY
echo
echo "results: $OUT/demo-scan.jsonl (one JSON line per file), summary: $OUT/demo-scan.jsonl.summary.json"
echo "exit code of hashmatch scan: $rc (0: scan complete; the broken sample is a recorded failure)"
