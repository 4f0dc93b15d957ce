#!/usr/bin/env bash
# The one test command: builds what changed, then runs the whole GoogleTest suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j "${PTX_BUILD_JOBS:-$(nproc)}"
ctest --test-dir build --output-on-failure -j "${PTX_TEST_JOBS:-2}" "$@"
