#!/usr/bin/env bash
# GPU PDQ check: the GPU tests with HASHMATCH_REQUIRE_GPU=1, a CLI cross-check (GPU == CPU output)
# and bench_pdq_gpu, everything written into $OUT (default ./gpu-pdq-out).
#
#   here (the build machine):   scripts/gpu-pdq-check.sh prepare   # builds, packs ./devbundle
#   on the GPU machine:         scripts/gpu-pdq-check.sh run       # (carry devbundle there)
#
# prepare: builds hashmatch, test_pdq_gpu, test_pdq_gpu_host and bench_pdq_gpu, packs them with the
# libraries the GPU machine lacks (../shared/scripts/device-bundle.sh), copies testdata/pdq (the
# golden images; ../shared does not travel) and the pdqhash wheel (reference hasher) into
# ./devbundle (kept out of git through .git/info/exclude).
# run: uses ./devbundle when present, else ./build; QUICK=1 runs a shorter bench.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
cmd=${1:-run}
bundle=devbundle

if [ "$cmd" = prepare ]; then
  cmake -S . -B build -G Ninja >/dev/null
  cmake --build build -j"$(nproc)" --target hashmatch test_pdq_gpu test_pdq_gpu_host bench_pdq_gpu
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qx "/$bundle/" "$exclude" 2>/dev/null || echo "/$bundle/" >> "$exclude"
  rm -rf "$bundle"
  ../shared/scripts/device-bundle.sh "$bundle" build/hashmatch build/tests/pdq_gpu/test_pdq_gpu \
    build/tests/pdq_gpu/test_pdq_gpu_host build/bench/pdq_gpu/bench_pdq_gpu
  mkdir -p "$bundle/testdata"
  cp -r ../shared/testdata/pdq "$bundle/testdata/"
  chmod -R u+w "$bundle/testdata"
  cp bench/pdq_gpu/pdqhash_ref.py "$bundle/"
  # pdqhash has no binary wheels on PyPI: build one for the GPU machine's Python (3.12).
  py312=""
  for c in python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    if "$c" -c "import sys; assert sys.version_info[:2] == (3, 12)" 2>/dev/null; then py312=$c; break; fi
  done
  if [ -n "$py312" ] && "$py312" -m pip wheel -q --no-deps "pdqhash==0.2.8" -w "$bundle/wheels"; then
    :
  else
    echo "note: no pdqhash wheel for Python 3.12; the reference hasher is skipped on the GPU machine"
  fi
  du -sh "$bundle"
  exit 0
fi

[ "$cmd" = run ] || { echo "usage: $0 [prepare|run]" >&2; exit 2; }
OUT=${OUT:-$here/gpu-pdq-out}
mkdir -p "$OUT"
if [ -f "$bundle/activate.sh" ]; then
  # shellcheck disable=SC1091
  source "$bundle/activate.sh"
  HM=/tmp/bundle/bin/hashmatch TGPU=/tmp/bundle/bin/test_pdq_gpu
  THOST=/tmp/bundle/bin/test_pdq_gpu_host BENCH=/tmp/bundle/bin/bench_pdq_gpu
  export HASHMATCH_TESTDATA="$here/$bundle/testdata"
  ref_script="$here/$bundle/pdqhash_ref.py"
  if ! python3 -c "import pdqhash" 2>/dev/null && ls "$bundle"/wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site "$bundle"/wheels/*.whl && export PYTHONPATH=/tmp/site
  fi
else
  HM=$here/build/hashmatch TGPU=$here/build/tests/pdq_gpu/test_pdq_gpu
  THOST=$here/build/tests/pdq_gpu/test_pdq_gpu_host BENCH=$here/build/bench/pdq_gpu/bench_pdq_gpu
  ref_script="$here/bench/pdq_gpu/pdqhash_ref.py"
fi
export HASHMATCH_REQUIRE_GPU=1
status=0
{
  echo "== $(date -u +%FT%TZ) $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
  "$HM" info
} 2>&1 | tee "$OUT/info.txt"

echo "== GPU tests (HASHMATCH_REQUIRE_GPU=1)"
if ! "$TGPU" 2>&1 | tee "$OUT/test_pdq_gpu.log" | tail -25; then
  status=1
fi
if ! "$THOST" --gtest_filter='-HashCli.*' 2>&1 | tee "$OUT/test_pdq_gpu_host.log" | tail -3; then status=1; fi

echo "== CLI: --backend cuda output == --backend cpu output"
td=${HASHMATCH_TESTDATA:-$here/../shared/testdata}/pdq
for args in "--dihedral" "--pdq-prescale 512 --dihedral" "--format pdq"; do
  "$HM" hash --backend cpu $args "$td" > "$OUT/cli_cpu.txt" 2>&1 || true
  "$HM" hash --backend cuda --gpu-batch 7 $args "$td" > "$OUT/cli_cuda.txt" 2>&1 || true
  if diff -q "$OUT/cli_cpu.txt" "$OUT/cli_cuda.txt" >/dev/null; then echo "identical: $args"
  else
    echo "DIFFERENT: $args"
    diff "$OUT/cli_cpu.txt" "$OUT/cli_cuda.txt" > "$OUT/cli_diff.txt" || true
    cut -c1-200 "$OUT/cli_diff.txt" | head -20 || true
    status=1
  fi
done
rm -f "$OUT/cli_cpu.txt" "$OUT/cli_cuda.txt"  # at most 8 files come back from $OUT

echo "== bench"
if [ "${QUICK:-0}" = 1 ]; then
  bargs=(--batches 1,64,1024 --repeats 3 --jpeg-count 256 --diff-count 100)
else
  bargs=(--batches 1,4,16,64,256,1024,4096 --repeats 5 --jpeg-count 1024 --diff-count 400)
fi
if ! "$BENCH" --mode all "${bargs[@]}" --pdqhash "$ref_script" --json "$OUT/bench_pdq_gpu.json" \
  2>&1 | tee "$OUT/bench_pdq_gpu.txt"; then
  status=1
fi
echo "== summary: status $status (0 = all GPU tests passed, CLI identical)"
exit $status
