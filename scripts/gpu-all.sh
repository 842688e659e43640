#!/usr/bin/env bash
# All GPU checks in one device call: every GPU-labelled test with HASHMATCH_REQUIRE_GPU=1 (a
# missing GPU fails instead of skipping) and the GPU benchmarks, logs and JSON packed into one
# archive under $OUT (the device tool returns at most 8 files), a short table printed last.
#
#   here:   scripts/gpu-all.sh pack                 (builds, bundles into devbundle/, ~3 minutes)
#   there:  scripts/gpu-all.sh run [STEPS]          (device tool: carry ["devbundle"])
#
# STEPS (comma list, default tests,bench-quick): tests (or one test executable by name),
# bench-quick, bench-match, bench-pdq, bench-pdq-frames, bench-video, gpu-sink-batch, video-targets (queue-fed
# video targets, decoder pool on/off, the reference vpdq beside; in two device calls:
# video-targets-exact, video-targets-kf), bench-cluster, bench-server,
# bench-scan,
# b1-sweep, profile (ncu), sanitize (compute-sanitizer memcheck). Each step runs under its own time limit
# (STEP_TIMEOUT, default 300 s) so one hang cannot eat the call. Environment: OUT (default
# out/gpu-all), TEST_FILTER (gtest filter for every test executable, default all).
# The per-area scripts (gpu-check.sh, gpu-pdq-check.sh, gpu-video-check.sh, gpu-server-bench.sh,
# gpu-scan-check.sh) run one area each with more options.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
bundle=devbundle
BUILD=${BUILD:-build}
TESTS=(test_cuda_rt test_match_gpu test_pdq_gpu test_video_gpu test_video_gpu_pdq test_nvdec_after_runtime test_video_pool
  test_server_gpu test_scan_gpu test_triage_gpu)
BENCHES=(bench_match bench_pdq_gpu bench_video bench_cluster bench_server)

case "$mode" in
pack)
  set -e
  [ -f "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build "$BUILD" -j"$(nproc)" --target hashmatch "${TESTS[@]}" "${BENCHES[@]}"
  exes=("$BUILD/hashmatch")
  for t in "${TESTS[@]}" "${BENCHES[@]}"; do
    exes+=("$(find "$BUILD" -name "$t" -type f -perm -u+x | head -1)")
  done
  excl=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$excl")"  # a clone can lack .git/info
  grep -qx "/$bundle/" "$excl" 2>/dev/null || echo "/$bundle/" >>"$excl"
  rm -rf "$bundle"
  bash ../shared/scripts/device-bundle.sh "$bundle" "${exes[@]}"
  # Everything must travel in 64 MiB: strip the executables and replace two large libraries that
  # Debian's FFmpeg links but nothing here calls (the codec2 speech codec; ICU's 31 MB data table,
  # used by libxml2 only to convert charsets) by stubs with the same soname and symbols.
  stage=$(mktemp -d)
  tar -C "$stage" -xJf "$bundle/bundle.tar.xz"
  strip "$stage"/bin/*
  for lib in "$stage"/lib/libcodec2.so.* "$stage"/lib/libicudata.so.*; do
    [ -f "$lib" ] || continue
    soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
    nm -D --defined-only "$lib" | awk '$2 == "T" {print "void " $3 "(void) { __builtin_trap(); }"}
      $2 ~ /^[BDRV]$/ {print "char " $3 "[64];"}' >"$stage/stub.c"
    gcc -shared -fPIC -o "$lib" -Wl,-soname,"$soname" "$stage/stub.c"
  done
  rm -f "$stage/stub.c"
  tar -C "$stage" -cf - bin lib | xz -6 -T0 >"$bundle/bundle.tar.xz"
  rm -rf "$stage"
  # The reference files the GPU tests read (../shared does not travel); JPEG/PNG: not packed.
  mkdir -p "$bundle/testdata"
  cp -r ../shared/testdata/pdq "$bundle/testdata/"
  chmod -R u+w "$bundle/testdata"
  cp bench/server/run_server_bench.py "$bundle/"
  # The reference vPDQ hasher (PyPI `vpdq`, one extension module linked against the FFmpeg
  # libraries the bundle carries) for the anchor of video-targets: one build per Python version
  # found here (py/X.Y/). The GPU machine's python3 is 3.12: build one for it first, e.g.
  #   python3.12 -m pip wheel --no-deps vpdq==0.2.5 -w /tmp/w &&
  #   python3.12 -m pip install --no-deps --target /tmp/site312 /tmp/w/vpdq-*.whl
  # then VPDQ_PYTHONS=python3.12 VPDQ_PYTHONPATH=/tmp/site312 scripts/gpu-all.sh pack.
  rm -rf "$bundle/py"
  for py in python3 python3.11 python3.12 ${VPDQ_PYTHONS:-}; do
    command -v "$py" >/dev/null 2>&1 || continue
    vpdq_so=$(PYTHONPATH=${VPDQ_PYTHONPATH:-} "$py" -c 'import vpdq; print(vpdq.__file__)' 2>/dev/null || true)
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
    if [ -n "$vpdq_so" ] && [ -f "$vpdq_so" ] && [ -n "$ver" ] && [ ! -d "$bundle/py/$ver" ]; then
      mkdir -p "$bundle/py/$ver"
      cp "$vpdq_so" "$bundle/py/$ver/"
      strip "$bundle/py/$ver/"*.so
    fi
  done
  # The GPU machine's python3 is 3.12: without py/3.12 the video targets would run without
  # their reference anchor, said only in info.txt. ALLOW_NO_ANCHOR=1 packs anyway.
  if [ ! -d "$bundle/py/3.12" ] && [ "${ALLOW_NO_ANCHOR:-0}" != 1 ]; then
    echo "pack: no vpdq for Python 3.12 (py/3.12): set VPDQ_PYTHONS / VPDQ_PYTHONPATH as above," \
      "or ALLOW_NO_ANCHOR=1" >&2
    exit 1
  fi
  if [ ! -d "$bundle/samples" ]; then
    samples=$(mktemp -d)
    bash scripts/gen-samples.sh "$samples" 2 >/dev/null
    mkdir -p "$bundle/samples"
    find "$samples" -type f \( -name '*.jpg' -o -name '*.webp' \) ! -name 'broken*' \
      -exec cp {} "$bundle/samples/" \;
    rm -rf "$samples"
  fi
  du -sh "$bundle"
  ;;
run)
  steps=${2:-tests,bench-quick}
  OUT=${OUT:-out/gpu-all}
  logs=${LOGS:-/tmp/gpu-all}
  rm -rf "$logs"
  mkdir -p "$OUT" "$logs"
  # shellcheck disable=SC1091
  source "$bundle/activate.sh"
  export HASHMATCH_TESTDATA=$PWD/$bundle/testdata
  # ncu / compute-sanitizer (profile, sanitize steps) where the toolkit keeps them.
  for d in /usr/local/cuda/bin /usr/local/cuda/compute-sanitizer /opt/nvidia/nsight-compute/*; do
    [ -d "$d" ] && PATH=$PATH:$d
  done
  T=${STEP_TIMEOUT:-300}
  summary=()
  status=0
  step() {  # step NAME CMD...: run under the time limit, log to $logs/NAME.log
    local name=$1; shift
    local t0=$SECONDS
    timeout -k 10 "$T" "$@" >"$logs/$name.log" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || status=1
    # The logs so far to $OUT at once, as one archive (the device tool brings back few files): a
    # device call killed at its limit still brings back the steps it finished.
    tar -C "$(dirname "$logs")" -czf "$OUT/partial.tar.gz" "$(basename "$logs")" 2>/dev/null
    local tail
    tail=$(grep -E '^\[  (PASSED|FAILED)  \] [0-9]+ test|^\[  SKIPPED \] [0-9]+ test' "$logs/$name.log" | tr '\n' ' ')
    summary+=("$name: exit $rc, $((SECONDS - t0)) s ${tail}")
    echo "${summary[-1]}"
  }
  {
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
    hashmatch info
  } >"$logs/info.txt" 2>&1
  cat "$logs/info.txt"
  IFS=, read -ra want <<<"$steps"
  for s in "${want[@]}"; do
    case "$s" in
    tests | test_*)
      [ "$s" = tests ] && which=("${TESTS[@]}") || which=("$s")
      for t in "${which[@]}"; do
        HASHMATCH_REQUIRE_GPU=1 step "$t" "$t" --gtest_filter="${TEST_FILTER:-*}" \
          --gtest_output="xml:$logs/$t.xml"
      done
      ;;
    bench-quick)
      step bench_match_quick bench_match --sizes 1e6,1e7 --batches 1,1024,8192 --threshold 31 \
        --backends cuda-b1mma,cuda-popc --budget-seconds 1 --max-call-seconds 20 --strict \
        --json "$logs/bench_match_quick.json"
      step bench_pdq_quick bench_pdq_gpu --mode all --batches 1,64,1024 --repeats 3 \
        --jpeg-count 256 --diff-count 100 --json "$logs/bench_pdq_quick.json"
      step bench_cluster_1m bench_cluster --n 1000000 --backend cuda --json "$logs/cluster_1m.json"
      step bench_video_quick bench_video --seconds 10 --streams 1,7 --repeats 1 \
        --decoders cpu,cuda --modes exact,keyframes --codecs h264 --clips /tmp/clips \
        --json "$logs/bench_video_quick.json" --no-anchor
      # Every-frame hashing on NVDEC: frames copied back + CPU PDQ vs the GPU PDQ sink (no copy).
      step bench_video_sink bench_video --seconds 10 --streams 1,4,7 --repeats 1 \
        --decoders cuda --modes every --sinks host,gpu --codecs h264 --clips /tmp/clips \
        --json "$logs/bench_video_sink.json" --no-anchor
      ;;
    bench-match)
      step bench_match bench_match --sizes 1e6,1e7,1e8 --batches 1,64,1024,8192 --threshold 31 \
        --backends cuda-b1mma,cuda-popc --budget-seconds 2 --max-call-seconds 20 --strict \
        --json "$logs/bench_match.json"
      ;;
    bench-pdq)
      step bench_pdq bench_pdq_gpu --mode all --batches 1,4,16,64,256,1024,4096 --repeats 5 \
        --jpeg-count 1024 --diff-count 400 --json "$logs/bench_pdq.json"
      ;;
    bench-video)
      # decoder auto = NVDEC sessions + CPU sessions side by side; sink auto (--video-pdq auto).
      step bench_video bench_video --seconds 20 --streams 1,8,16,24 --repeats 1 \
        --decoders cpu,cuda,auto --modes exact,keyframes --codecs h264,hevc --clips /tmp/clips \
        --json "$logs/bench_video.json" --no-anchor
      # Keyframes-only with NVDEC frames hashed as they are (--video-pdq cuda: no copy back).
      step bench_video_kf_gpu bench_video --seconds 20 --streams 8,16,24 --repeats 1 \
        --decoders cuda,auto --modes keyframes --sinks gpu --codecs h264 --clips /tmp/clips \
        --json "$logs/bench_video_kf_gpu.json" --no-anchor
      # Every frame hashed (--vpdq-every-frame): CPU PDQ vs host frames on the GPU vs the sink.
      step bench_video_every bench_video --seconds 10 --streams 1,8 --repeats 1 \
        --decoders cpu,cuda --modes every --sinks auto,host,gpu --codecs h264 --clips /tmp/clips \
        --json "$logs/bench_video_every.json" --no-anchor
      ;;
    final)  # the last check of a session: matcher defaults, video targets (GOP 2 s and 250 frames)
      step bench_match_final bench_match --sizes 1e7,1e8 --batches 1,8192 --threshold 31 \
        --backends cuda-b1mma,cuda-popc --budget-seconds 1 --max-call-seconds 20 --strict \
        --json "$logs/bench_match_final.json"
      for gop in 60 250; do
        step "bench_video_gop$gop" bench_video --seconds 20 --gop "$gop" --streams 16,24 \
          --repeats 1 --decoders cpu,auto --modes exact,keyframes --codecs h264 \
          --clips /tmp/clips --json "$logs/bench_video_gop$gop.json" --no-anchor
      done
      step bench_video_every bench_video --seconds 10 --streams 8 --repeats 1 \
        --decoders cuda --modes every --sinks auto,host,gpu --codecs h264 --clips /tmp/clips \
        --json "$logs/bench_video_every.json" --no-anchor
      ;;
    video-targets | video-targets-exact | video-targets-kf)
      # The issue's targets as a backlog sees them: S sessions fed from a queue of videos
      # (--feed queue), decoders kept open across videos (video/decoder_pool.h) and, for
      # comparison, HASHMATCH_DECODER_POOL=0; sink none = decoding ceiling (no PDQ).
      anchor=(--no-anchor)
      for vdir in "$bundle"/py/*/; do
        [ -d "$vdir" ] || continue
        pv=$(basename "$vdir")
        for c in "python$pv" /opt/*/bin/"python$pv" /opt/*/*/bin/"python$pv" python3; do
          if command -v "$c" >/dev/null 2>&1 &&
            PYTHONPATH=$PWD/$vdir "$c" -c 'import vpdq' >/dev/null 2>&1; then
            export PYTHONPATH=$PWD/$vdir
            anchor=(--python "$c")
            break 2
          fi
        done
      done
      [ "${anchor[0]}" = --no-anchor ] && echo "reference vpdq: none of $(ls "$bundle/py" 2>/dev/null | tr '\n' ' ')loads here" >>"$logs/info.txt"
      # By estimate from the earlier H100 run: exact ~4.5 min (96 videos x 600 frames per
      # configuration at 1,500-3,500 frames/s, two GOPs), keyframes ~2 min; both together come
      # close to one device call's 10 minutes, so video-targets-exact and video-targets-kf run
      # them as two calls (clips are generated again in the second: ~20 s).
      for gop in 60 250; do
        [ "$s" = video-targets-kf ] && break
        step "video_targets_exact_gop$gop" bench_video --seconds 20 --gop "$gop" --streams 16,24 \
          --repeats 1 --feed queue --videos 96 --decoders cpu,auto --modes exact --sinks auto \
          --codecs h264 --clips /tmp/clips --json "$logs/video_targets_exact_gop$gop.json" \
          "${anchor[@]}"
        anchor=(--no-anchor)  # once is enough
      done
      [ "$s" = video-targets-exact ] && continue
      # Sinks: auto (key frames to the GPU PDQ from host memory), host (the CPU PDQ, 2.8x faster
      # since 2026-11-24: whether it now beats the GPU's for key frames), none (decoding alone).
      for gop in 60 250; do
        step "video_targets_kf_gop$gop" bench_video --seconds 20 --gop "$gop" --streams 16,24 \
          --repeats 1 --feed queue --videos 192 --decoders cpu,auto --modes keyframes \
          --sinks auto,host,none --codecs h264 --clips /tmp/clips \
          --json "$logs/video_targets_kf_gop$gop.json" --no-anchor
      done
      step video_targets_nopool env HASHMATCH_DECODER_POOL=0 bench_video --seconds 20 --gop 60 \
        --streams 24 --repeats 1 --feed queue --videos 96 --decoders auto \
        --modes exact,keyframes --codecs h264 --clips /tmp/clips \
        --json "$logs/video_targets_nopool.json" --no-anchor
      for k in 0 4 16; do  # NVDEC sessions for keyframes-only videos (default 8, measured above)
        step "video_targets_kfsessions$k" env HASHMATCH_NVDEC_KEYFRAME_SESSIONS=$k bench_video \
          --seconds 20 --gop 60 --streams 24 --repeats 1 --feed queue --videos 192 \
          --decoders auto --modes keyframes --codecs h264 --clips /tmp/clips \
          --json "$logs/video_targets_kfsessions$k.json" --no-anchor
      done
      # H.264 on NVDEC without the end-of-video drain (default) vs with it: a drained H.264
      # decoder makes FFmpeg create a new NVDEC decoder for the next video.
      step video_targets_kf_drained env HASHMATCH_H264_NO_DRAIN=off bench_video \
        --seconds 20 --gop 60 --streams 24 --repeats 1 --feed queue --videos 192 \
        --decoders auto --modes keyframes --codecs h264 --clips /tmp/clips \
        --json "$logs/video_targets_kf_drained.json" --no-anchor
      for nd in nvdec off; do
        step "video_targets_exact_$([ $nd = off ] && echo drained || echo nodrain)" \
          env HASHMATCH_H264_NO_DRAIN=$nd bench_video --seconds 20 --gop 60 --streams 16 \
          --repeats 1 --feed queue --videos 48 --decoders cuda --modes exact --codecs h264 \
          --clips /tmp/clips --json "$logs/video_targets_exact_nd_$nd.json" --no-anchor
      done
      step video_targets_hevc bench_video --seconds 20 --gop 60 --streams 24 --repeats 1 \
        --feed queue --videos 96 --decoders auto --modes exact,keyframes --codecs hevc \
        --clips /tmp/clips --json "$logs/video_targets_hevc.json" --no-anchor
      ;;
    gpu-sink-batch)  # every frame on NVDEC into the GPU sink: held surfaces (6) vs copied frames
      for b in 6 16 32 64; do
        step "gpu_sink_batch$b" env HASHMATCH_VIDEO_PDQ_BATCH=$b bench_video --seconds 10 \
          --streams 8,16 --repeats 1 --decoders cuda --modes every --sinks gpu --codecs h264 \
          --clips /tmp/clips --json "$logs/gpu_sink_batch$b.json" --no-anchor
      done
      ;;
    bench-pdq-frames)  # frames only (host and device memory), 1080p
      step bench_pdq_frames bench_pdq_gpu --mode frames --sizes 1920x1080 --batches 16,64,1024 \
        --source device,host --repeats 3 --json "$logs/bench_pdq_frames.json"
      ;;
    bench-cluster)
      step bench_cluster_1m bench_cluster --n 1000000 --backend cuda --json "$logs/cluster_1m.json"
      step bench_cluster_10m bench_cluster --n 10000000 --backend cuda --json "$logs/cluster_10m.json"
      ;;
    bench-server)
      step bench_server python3 "$bundle/run_server_bench.py" --build /tmp/bundle/bin \
        --samples "$bundle/samples" --backend cuda --match-backend cuda \
        --settings 128:2ms,256:5ms --endpoints hash,match --seconds 6 --connections 128 --half \
        --bulk --bulk-images 20000 --list-size 1000000 --out "$logs/server_bench_cuda.json"
      ;;
    bench-scan)
      step bench_scan hashmatch bench --report-dir "$logs/bench" --source-dir "$PWD" \
        --scan-images "${SCAN_IMAGES:-20000}" --scan-list "${SCAN_LIST:-100000000}" ${BENCH_ARGS:-}
      ;;
    b1-sweep)  # b1mma: tiles x blocks per SM (HASHMATCH_B1MMA_VARIANT) x list split density
      for v in 84 85 46 48; do
        for w in 32 128; do
          HASHMATCH_B1MMA_VARIANT=$v HASHMATCH_B1MMA_WARPS_PER_SM=$w step "b1_sweep_${v}_$w" \
            bench_match --sizes 1e7 --batches 1024,8192 --threshold 31 \
            --backends cuda-b1mma --budget-seconds 1 --max-call-seconds 20 \
            --json "$logs/b1_sweep_${v}_$w.json"
        done
        HASHMATCH_B1MMA_VARIANT=$v HASHMATCH_REQUIRE_GPU=1 step "test_match_gpu_$v" test_match_gpu
      done
      ;;
    profile)  # Nsight Compute: one launch of each hot kernel (clocks left alone)
      ncu_args=(--clock-control none --section SpeedOfLight --section Occupancy
        --section WarpStateStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis
        --section LaunchStats)
      step ncu_b1mma ncu "${ncu_args[@]}" -k regex:b1mma --launch-skip 2 --launch-count 1 \
        bench_match --sizes 1e7 --batches 8192 --backends cuda-b1mma --budget-seconds 0.2 \
        --max-call-seconds 20
      step ncu_pdq ncu "${ncu_args[@]}" -k regex:'row_pass|column_pass|final_kernel' \
        --launch-skip 8 --launch-count 4 bench_pdq_gpu --mode frames --sizes 1920x1080 \
        --batches 256 --source device --repeats 1
      ;;
    sanitize)  # compute-sanitizer memcheck on the kernels' tests (a subset: it is slow)
      step sanitize_match compute-sanitizer --tool memcheck --error-exitcode 9 test_match_gpu \
        --gtest_filter='MatchGpu.PlantedNearDuplicatesAtBoundaries:MatchGpu.EveryBatchShape:MatchGpu.EmptyInputsAndThresholdEdges'
      step sanitize_pdq compute-sanitizer --tool memcheck --error-exitcode 9 test_pdq_gpu \
        --gtest_filter='PdqGpu.DeviceAndHostFramesOfEveryFormat:PdqGpu.BuffersGrowForAHugeImageAndBadInputIsAnError'
      ;;
    *) echo "unknown step $s" >&2; status=1 ;;
    esac
  done
  {
    echo "== GPU checks ($(date -u +%FT%TZ)), steps $steps"
    head -2 "$logs/info.txt"
    printf '%s\n' "${summary[@]}"
  } | tee "$logs/summary.txt"
  rm -f "$OUT/partial.tar.gz"
  tar -C "$(dirname "$logs")" -czf "$OUT/gpu-all.tar.gz" "$(basename "$logs")"
  cp "$logs/summary.txt" "$OUT/"
  exit $status
  ;;
*)
  sed -n 2,14p "$0"
  exit 2
  ;;
esac
