#!/usr/bin/env bash
# GPU checks: the GPU tests with HASHMATCH_REQUIRE_GPU=1 (a missing GPU fails instead of skipping)
# and the GPU benchmarks, logs and JSON into one folder, a short table printed last.
#
# The GPU machine has no Debian packages and no network (../shared/docs/GPU.md), so the
# executables are built here and carried there in a bundle with the libraries it lacks:
#
#   here:   scripts/gpu-check.sh pack [BUNDLE_DIR]      (default devbundle/; ~2 minutes)
#           echo /devbundle/ >> .git/info/exclude        (once)
#   there:  OUT=/some/dir scripts/gpu-check.sh run [BUNDLE_DIR]
#
# `run` also works in a tree built on the GPU machine itself (executables under $BUILD, default
# build/): it uses the bundle when BUNDLE_DIR/activate.sh exists, the build folder otherwise.
# Environment: OUT (output folder, default out/gpu-check), BUILD (default build),
#   MATCH_SIZES (default 1e6,1e7,1e8), MATCH_BATCHES (default 1,64,1024,8192),
#   MATCH_THRESHOLD (default 31), MATCH_BUDGET (seconds per configuration, default 3).
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
bundle=${2:-devbundle}
BUILD=${BUILD:-build}
TESTS=(test_match_gpu test_match_cpu test_b1_emulation)
BENCHES=(bench_match)

case "$mode" in
pack)
  set -e
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target "${TESTS[@]}" "${BENCHES[@]}"
  exes=()
  for t in "${TESTS[@]}"; do exes+=("$(find "$BUILD/tests" -name "$t" -type f -perm -u+x | head -1)"); done
  for b in "${BENCHES[@]}"; do exes+=("$BUILD/$b"); done
  bash ../shared/scripts/device-bundle.sh "$bundle" "${exes[@]}"
  # The few reference files the tests read (../shared does not travel).
  mkdir -p "$bundle/testdata/pdq/reg-test-input"
  cp ../shared/testdata/pdq/reg-test-input/{haystack,needles}.txt "$bundle/testdata/pdq/reg-test-input/"
  echo "packed into $bundle/ ($(du -sh "$bundle" | cut -f1)); carry it and run: scripts/gpu-check.sh run $bundle"
  ;;
run)
  OUT=${OUT:-out/gpu-check}
  mkdir -p "$OUT"
  if [ -f "$bundle/activate.sh" ]; then
    # shellcheck disable=SC1090
    source "$bundle/activate.sh"
    export HASHMATCH_TESTDATA=${HASHMATCH_TESTDATA:-$PWD/$bundle/testdata}
    find_exe() { command -v "$1"; }
  else
    find_exe() { find "$BUILD" -name "$1" -type f -perm -u+x | head -1; }
  fi
  export HASHMATCH_REQUIRE_GPU=1
  if command -v nvidia-smi >/dev/null; then nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1; fi
  status=0
  summary=()
  for t in "${TESTS[@]}"; do
    exe=$(find_exe "$t")
    if [ -z "$exe" ]; then
      summary+=("$t: NOT FOUND")
      status=1
      continue
    fi
    "$exe" --gtest_output="xml:$OUT/$t.xml" >"$OUT/$t.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || status=1
    summary+=("$t: $(grep -E '^\[  (PASSED|FAILED)  \] [0-9]+ test' "$OUT/$t.log" | tr '\n' ' ')(exit $rc)")
  done
  exe=$(find_exe bench_match)
  if [ -n "$exe" ]; then
    "$exe" --sizes "${MATCH_SIZES:-1e6,1e7,1e8}" --batches "${MATCH_BATCHES:-1,64,1024,8192}" \
      --threshold "${MATCH_THRESHOLD:-31}" --backends cuda-b1mma,cuda-popc \
      --budget-seconds "${MATCH_BUDGET:-3}" --max-call-seconds 20 --strict \
      --json "$OUT/bench_match_gpu.json" >"$OUT/bench_match_gpu.log" 2>&1
    rc=$?
    [ $rc -eq 0 ] || status=1
    summary+=("bench_match (cuda-b1mma vs cuda-popc): exit $rc, $OUT/bench_match_gpu.json")
  else
    summary+=("bench_match: NOT FOUND")
    status=1
  fi
  echo
  echo "== GPU check ($(date -u +%FT%TZ)) =="
  head -1 "$OUT/nvidia-smi.txt" 2>/dev/null || true
  printf '%s\n' "${summary[@]}"
  [ -f "$OUT/bench_match_gpu.log" ] && grep -E '^(backend|cuda)' "$OUT/bench_match_gpu.log"
  exit $status
  ;;
*)
  echo "usage: $0 pack [BUNDLE_DIR] | run [BUNDLE_DIR]" >&2
  exit 2
  ;;
esac
