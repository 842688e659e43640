#!/usr/bin/env bash
# Bulk-scan checks on the GPU machine: the scan's GPU tests with HASHMATCH_REQUIRE_GPU=1 (the GPU
# stage against the CPU oracle), then `hashmatch bench` with the GPU (the end-to-end target: a
# backlog of 1080p JPEGs scanned at >= 5,000 images/s against a 100 M-entry list on one H100),
# logs and JSON into one folder, a short table printed last.
#
# The GPU machine has no Debian packages and no network (../shared/docs/GPU.md): build here, carry
# a bundle (see scripts/gpu-check.sh for the same pattern):
#
#   here:   scripts/gpu-scan-check.sh pack [BUNDLE_DIR]     (default devbundle/)
#           echo /devbundle/ >> .git/info/exclude            (once)
#   there:  OUT=/some/dir scripts/gpu-scan-check.sh tests [BUNDLE_DIR]   (~2 minutes)
#           OUT=/some/dir scripts/gpu-scan-check.sh bench [BUNDLE_DIR]   (~5 minutes)
#   here:   python3 bench/report.py DIR   (on the results-gpu-*.json brought back, beside
#           docs/bench/results-cpu.json: the report shows both machines)
#
# Environment: OUT (default out/gpu-scan-check), BUILD (default build), SCAN_IMAGES (files in the
# backlog, default 20000), SCAN_LIST (list entries, default 100000000), BENCH_ARGS (more
# `hashmatch bench` options, e.g. "--quick").
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-tests}
bundle=${2:-devbundle}
BUILD=${BUILD:-build}
OUT=${OUT:-out/gpu-scan-check}
TESTS=(test_scan_gpu test_scan_pipeline test_scan_items)

setup() {
  mkdir -p "$OUT"
  if [ -f "$bundle/activate.sh" ]; then
    # shellcheck disable=SC1090
    source "$bundle/activate.sh"
    find_exe() { command -v "$1"; }
  else
    find_exe() { find "$BUILD" -name "$1" -type f -perm -u+x | head -1; }
  fi
  if command -v nvidia-smi >/dev/null; then nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1; fi
}

case "$mode" in
pack)
  set -e
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target hashmatch bench_match "${TESTS[@]}"
  exes=("$BUILD/hashmatch" "$BUILD/bench_match")
  [ -x "$BUILD/bench_pdq_gpu" ] && exes+=("$BUILD/bench_pdq_gpu")
  for t in "${TESTS[@]}"; do exes+=("$(find "$BUILD/tests" -name "$t" -type f -perm -u+x | head -1)"); done
  bash ../shared/scripts/device-bundle.sh "$bundle" "${exes[@]}"
  echo "packed into $bundle/ ($(du -sh "$bundle" | cut -f1)); carry it and run: scripts/gpu-scan-check.sh tests|bench $bundle"
  ;;
tests)
  setup
  export HASHMATCH_REQUIRE_GPU=1
  status=0
  summary=()
  hm=$(find_exe hashmatch)
  [ -n "$hm" ] && "$hm" info >"$OUT/info.txt" 2>&1
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
  echo
  echo "== GPU scan tests ($(date -u +%FT%TZ)) =="
  head -1 "$OUT/nvidia-smi.txt" 2>/dev/null || true
  cat "$OUT/info.txt" 2>/dev/null
  printf '%s\n' "${summary[@]}"
  exit $status
  ;;
bench)
  setup
  hm=$(find_exe hashmatch)
  [ -n "$hm" ] || { echo "hashmatch not found" >&2; exit 1; }
  # bench_match must sit beside hashmatch for the faiss anchor; the Python anchors and the plots
  # need pdqhash/vpdq/faiss/matplotlib, usually missing there: they are skipped with the reason and
  # the report is made here afterwards.
  # shellcheck disable=SC2086
  HASHMATCH_REQUIRE_GPU=1 "$hm" bench --report-dir "$OUT/bench" --source-dir "$PWD" \
    --scan-images "${SCAN_IMAGES:-20000}" --scan-list "${SCAN_LIST:-100000000}" ${BENCH_ARGS:-} \
    2>&1 | tee "$OUT/bench.log"
  rc=${PIPESTATUS[0]}
  echo
  echo "== GPU scan bench ($(date -u +%FT%TZ)), exit $rc =="
  head -1 "$OUT/nvidia-smi.txt" 2>/dev/null || true
  grep -E '^bench: (scan|matcher: cuda|pdq: cuda|vpdq)' "$OUT/bench.log"
  ls "$OUT"/bench/results-*.json 2>/dev/null
  exit "$rc"
  ;;
*)
  echo "usage: $0 pack [BUNDLE_DIR] | tests [BUNDLE_DIR] | bench [BUNDLE_DIR]" >&2
  exit 2
  ;;
esac
