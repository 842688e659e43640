#!/usr/bin/env bash
# GPU run of the server: NVML metrics test with HASHMATCH_REQUIRE_GPU=1, then the server benchmark
# (bench/server/run_server_bench.py) on the CUDA backend — saturation images/s and p50/p99 for several
# batch settings, p99 at half of saturation, and the bulk path (`hashmatch hash --backend cuda`) on
# the same images for the "< 10 % overhead" target — and the CPU backend on the same machine for
# comparison. Everything goes into $OUT (default ./gpu-server-out); a table is printed last.
#
#   here (the build machine):   scripts/gpu-server-bench.sh prepare   # builds, packs ./devbundle
#   on the GPU machine:         scripts/gpu-server-bench.sh run       # (carry devbundle there)
#
# prepare: builds hashmatch, bench_server and test_server_gpu, packs them with the libraries the GPU
# machine lacks (../shared/scripts/device-bundle.sh), and puts benign generated sample images
# (scripts/gen-samples.sh; JPEG and WebP only, to stay within what travels) into ./devbundle/samples.
# run: uses ./devbundle when present, else ./build and SAMPLES (a folder of images). QUICK=1: shorter.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
cmd=${1:-run}
bundle=devbundle

if [ "$cmd" = prepare ]; then
  cmake -S . -B build -G Ninja >/dev/null
  cmake --build build -j"$(nproc)" --target hashmatch bench_server test_server_gpu
  excl=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$excl")"  # a clone can lack .git/info
  grep -qx "/$bundle/" "$excl" 2>/dev/null || echo "/$bundle/" >> "$excl"
  rm -rf "$bundle"
  ../shared/scripts/device-bundle.sh "$bundle" build/hashmatch build/bench_server \
    build/tests/server/test_server_gpu
  samples=$(mktemp -d)
  bash scripts/gen-samples.sh "$samples" 4 >/dev/null
  mkdir -p "$bundle/samples"
  find "$samples" -type f \( -name '*.jpg' -o -name '*.webp' \) ! -name 'broken*' -exec cp {} "$bundle/samples/" \;
  rm -rf "$samples"
  cp bench/server/run_server_bench.py "$bundle/"
  du -sh "$bundle"
  exit 0
fi

[ "$cmd" = run ] || { echo "usage: $0 [prepare|run]" >&2; exit 2; }
OUT=${OUT:-$here/gpu-server-out}
mkdir -p "$OUT"
if [ -f "$bundle/activate.sh" ]; then
  # shellcheck disable=SC1091
  source "$bundle/activate.sh"
  BIN=/tmp/bundle/bin
  SAMPLES=${SAMPLES:-$here/$bundle/samples}
  BENCH_PY=$here/$bundle/run_server_bench.py
else
  BIN=$here/build
  SAMPLES=${SAMPLES:?give SAMPLES=folder of images (scripts/gen-samples.sh makes one)}
  BENCH_PY=$here/bench/server/run_server_bench.py
fi
[ -x "$BIN/bench_server" ] || { echo "no bench_server in $BIN" >&2; exit 1; }
"$BIN/hashmatch" info | tee "$OUT/info.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt" || true

echo "== NVML metrics test (HASHMATCH_REQUIRE_GPU=1)"
HASHMATCH_REQUIRE_GPU=1 "$BIN/test_server_gpu" 2>&1 | tee "$OUT/test_server_gpu.txt" | tail -3

secs=10
settings_gpu="64:2ms,128:2ms,256:5ms,512:10ms"
settings_cpu="1:0ms,16:2ms"
conns=128
if [ "${QUICK:-0}" = 1 ]; then secs=4; settings_gpu="128:2ms,256:5ms"; settings_cpu="16:2ms"; fi

echo "== server benchmark, CUDA backend"
python3 "$BENCH_PY" --build "$BIN" --samples "$SAMPLES" --backend cuda --match-backend cuda \
  --settings "$settings_gpu" --endpoints hash,match --seconds "$secs" --connections "$conns" \
  --half --bulk --bulk-images 20000 --list-size 1000000 --out "$OUT/server_bench_cuda.json" \
  2> "$OUT/server_bench_cuda.log" | tee "$OUT/server_bench_cuda.md"
echo "== precomputed hashes (/v1/match/hashes, 1,000 per request), CUDA matcher"
python3 "$BENCH_PY" --build "$BIN" --samples "$SAMPLES" --backend cuda --match-backend cuda \
  --settings 256:2ms --endpoints hashes --hashes-per-request 1000 --seconds "$secs" \
  --connections 32 --half --list-size 1000000 --out "$OUT/server_bench_hashes.json" \
  2> "$OUT/server_bench_hashes.log" | tee "$OUT/server_bench_hashes.md"
echo "== server benchmark, CPU backend (same machine)"
python3 "$BENCH_PY" --build "$BIN" --samples "$SAMPLES" --backend cpu --match-backend cpu \
  --settings "$settings_cpu" --endpoints hash --seconds "$secs" --connections 64 --bulk \
  --bulk-images 5000 --list-size 1000000 --out "$OUT/server_bench_cpu.json" \
  2> "$OUT/server_bench_cpu.log" | tee "$OUT/server_bench_cpu.md"
echo
echo "Targets: server images/s >= 0.9 x bulk images/s (CUDA); p99 at half of saturation <= 50 ms."
cat "$OUT/server_bench_cuda.md"
