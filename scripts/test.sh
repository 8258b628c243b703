#!/usr/bin/env bash
# Sets up a fresh machine, builds genmodel and runs the whole test suite.
# Usage: scripts/test.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=$(nproc)
# Idle OpenMP threads sleep instead of spinning: ctest runs several test binaries at once, and
# spinning workers of one would steal the cores the others need.
export OMP_WAIT_POLICY=passive

echo "== configure and build (CPU + emulated CUDA)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"

echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs"
