#!/usr/bin/env bash
# GPU check of the video layer: NVDEC tests (CPU is the oracle) and the video capacity benchmark.
#
# Two steps, because the GPU machine has no Debian FFmpeg (docs/GPU.md):
#   scripts/gpu-video-check.sh pack          here: builds the targets and packs them with their
#                                            libraries into devbundle/ (about 1.5 minutes)
#   scripts/gpu-video-check.sh run OUT_DIR   there (devbundle/ carried along): runs the GPU tests
#                                            with HASHMATCH_REQUIRE_GPU=1, then bench_video; logs,
#                                            gtest JSON and bench JSON go to OUT_DIR, a short table
#                                            is printed last.
# Environment: BUILD (default build), BENCH_SECONDS (default 20), BENCH_STREAMS
# (default 1,2,4,7,8,12,16), BENCH_REPEATS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
BUILD=${BUILD:-build}

case "$mode" in
  pack)
    [ -f "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja
    cmake --build "$BUILD" -j2 --target hashmatch test_video_gpu test_video_gpu_pdq test_video_pool \
      bench_video
    rm -rf devbundle
    ../shared/scripts/device-bundle.sh devbundle "$BUILD/hashmatch" \
      "$BUILD/tests/video/test_video_gpu" "$BUILD/tests/video/test_video_gpu_pdq" \
      "$BUILD/tests/video/test_video_pool" \
      "$BUILD/bench/bench_video"
    excl=$(git rev-parse --git-path info/exclude 2>/dev/null || true)
    if [ -n "$excl" ] && ! grep -qx '/devbundle/' "$excl" 2>/dev/null; then
      mkdir -p "$(dirname "$excl")" && echo /devbundle/ >> "$excl"
    fi
    echo "packed: run it there with the device tool, carry [\"devbundle\"]:"
    echo "  bash scripts/gpu-video-check.sh run \$OUT"
    ;;
  run)
    out=${2:?usage: $0 run OUT_DIR}
    mkdir -p "$out"
    # shellcheck disable=SC1091
    source devbundle/activate.sh
    {
      echo "== $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
      hashmatch info || true
    } | tee "$out/info.txt"
    rc=0
    export HASHMATCH_REQUIRE_GPU=1
    test_video_gpu --gtest_output="json:$out/test_video_gpu.json" 2>&1 | tee "$out/test_video_gpu.log" || rc=1
    test_video_gpu_pdq --gtest_output="json:$out/test_video_gpu_pdq.json" 2>&1 | tee "$out/test_video_gpu_pdq.log" || rc=1
    test_video_pool --gtest_output="json:$out/test_video_pool.json" 2>&1 | tee "$out/test_video_pool.log" || rc=1
    unset HASHMATCH_REQUIRE_GPU
    mkdir -p /tmp/bench-video-clips
    bench_video --seconds "${BENCH_SECONDS:-20}" --streams "${BENCH_STREAMS:-1,2,4,7,8,12,16}" \
      --repeats "${BENCH_REPEATS:-3}" --decoders cpu,cuda,auto --modes exact,keyframes \
      --clips /tmp/bench-video-clips --json "$out/bench_video.json" --no-anchor \
      2>&1 | tee "$out/bench_video.log" || rc=1
    # Every frame hashed on NVDEC: copy back + CPU PDQ (host) vs the GPU PDQ sink (gpu).
    bench_video --seconds "${BENCH_SECONDS:-20}" --streams 1,4,7,16 --repeats "${BENCH_REPEATS:-3}" \
      --decoders cuda --modes every --sinks host,gpu --clips /tmp/bench-video-clips \
      --json "$out/bench_video_every.json" --no-anchor 2>&1 | tee "$out/bench_video_every.log" || rc=1
    # Two NVDEC decoder threads per session (HASHMATCH_NVDEC_THREADS), exact mode, for comparison.
    HASHMATCH_NVDEC_THREADS=2 bench_video --seconds "${BENCH_SECONDS:-20}" --streams 1,7,8 \
      --repeats "${BENCH_REPEATS:-3}" --decoders cuda --modes exact --codecs h264 \
      --clips /tmp/bench-video-clips --json "$out/bench_video_nvdec_threads2.json" --no-anchor \
      2>&1 | tee "$out/bench_video_nvdec_threads2.log" || rc=1
    echo
    echo "== summary (targets on one H100: exact vPDQ >= 3000 frames/s with NVDEC+CPU;"
    echo "   keyframes-only >= 2000 video-seconds/s)"
    grep -E '^\[ (nvdec|  PASSED|  FAILED|  SKIPPED)' "$out"/test_video_gpu.log | tail -12 || true
    grep -E 'tests? (passed|failed)|PASSED|FAILED' "$out"/test_video_gpu.log | tail -3 || true
    grep -E '^\[ gpu-sink' "$out"/test_video_gpu_pdq.log || true
    grep -E '^(codec|h264|hevc) ' "$out/bench_video.log" "$out/bench_video_every.log" || true
    exit $rc
    ;;
  *)
    sed -n 2,15p "$0"
    exit 2
    ;;
esac
