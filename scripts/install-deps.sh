#!/usr/bin/env bash
# Idempotent install step: Debian packages (apt) and Python tools (pip) that hashmatch needs to build,
# test, benchmark and run its demo. Quick (a dpkg query) when everything is already there.
#   HASHMATCH_BENCH_DEPS=1  also installs the benchmark anchors and report tools from PyPI
#                           (pdqhash, faiss-cpu, numpy, pillow, matplotlib, and vpdq, which builds
#                           from source against Debian's FFmpeg: it needs libavdevice-dev and
#                           libavfilter-dev besides the FFmpeg packages above).
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev googletest
  libssl-dev libsqlite3-dev nlohmann-json3-dev libexpat1-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev libtiff-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg
  libcpp-httplib-dev libyaml-cpp-dev prometheus-cpp-dev   # the server (HTTP, config, metrics)
  prometheus openssl wrk                                  # server integration test and benchmark
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The server's integration test validates responses against docs/openapi.yaml (jsonschema) and
# reads YAML (PyYAML), with the python3 that CMake finds.
PY=${PYTHON:-python3}
if ! "$PY" -c "import jsonschema, yaml" 2>/dev/null; then
  "$PY" -m pip install -q "jsonschema>=4.18" pyyaml
fi

if [ "${HASHMATCH_BENCH_DEPS:-0}" = "1" ]; then
  PY=${PYTHON:-python3}
  for mod in pdqhash faiss numpy matplotlib; do
    if ! "$PY" -c "import $mod" 2>/dev/null; then
      "$PY" -m pip install -q pdqhash faiss-cpu numpy pillow matplotlib
      break
    fi
  done
  # vPDQ reference (Meta's vpdq bindings): the anchor of bench_video and of hashmatch bench.
  if ! "$PY" -c "import vpdq" 2>/dev/null; then
    bench_apt=()
    for p in libavdevice-dev libavfilter-dev; do
      dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || bench_apt+=("$p")
    done
    if ((${#bench_apt[@]})); then
      SUDO=""
      [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${bench_apt[@]}" >/dev/null
    fi
    "$PY" -m pip install -q vpdq || echo "install-deps: note: pip install vpdq failed; the vPDQ anchors of bench_video and hashmatch bench are skipped" >&2
  fi
fi

# nvJPEG headers (and a libnvjpeg for local runs) for the GPU JPEG path, when the CUDA toolkit has
# none: the PyPI wheel of the toolkit's major version. Optional: without it the build goes on
# without nvJPEG (hashmatch info says so). HASHMATCH_NO_NVJPEG=1 skips this.
if [ "${HASHMATCH_NO_NVJPEG:-0}" != "1" ] && [ ! -f /usr/local/cuda/include/nvjpeg.h ] &&
   { command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; }; then
  PY=${PYTHON:-python3}
  if ! "$PY" -c "import os, nvidia; assert any(os.path.exists(os.path.join(p, 'cu13', 'include', 'nvjpeg.h')) for p in nvidia.__path__)" 2>/dev/null; then
    "$PY" -m pip install -q "nvidia-nvjpeg>=13.0,<13.1" ||
      echo "install-deps: note: nvidia-nvjpeg not installed; building without nvJPEG" >&2
  fi
fi

if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "install-deps: note: nvcc not found; the build goes on without the CUDA backend" >&2
fi
