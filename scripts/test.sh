#!/usr/bin/env bash
# The README's test command: install dependencies, build everything, run every test.
# GPU tests skip without a device (and fail instead with HASHMATCH_REQUIRE_GPU=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD=${HASHMATCH_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j"$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure -j"$(nproc)" --timeout 600
