#!/usr/bin/env bash
# Per-kernel registers, static shared memory, spills and theoretical H100 occupancy of every
# kernel in kernels/cuda, checked against the budgets in kernels/cuda/tools/cuda_resources.cpp.
# Prints a Markdown table (docs/cuda.md has a copy); exits non-zero when a kernel leaves its
# budget. Needs a build configured with -DGENMODEL_CUDA=ON (for nvcc and the report program).
# It also compares ptxas's registers and shared memory with the emulator's copy of them,
# kernels/simt/kernel_resources.inc (the limits cuda-emu enforces at launch), and fails when they
# differ; --update-table rewrites that file instead.
# Usage: scripts/cuda_resources.sh [--update-table] [build-dir]        (default: build-cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
if [ "${1:-}" = --update-table ]; then update=1; shift; fi
build=${1:-build-cuda}
table=kernels/simt/kernel_resources.inc
nvcc=$(sed -n 's/^CMAKE_CUDA_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
[ -n "$nvcc" ] || { echo "cuda_resources: $build is not a CUDA build (-DGENMODEL_CUDA=ON)" >&2; exit 2; }
cmake --build "$build" --target cuda_resources >/dev/null

# ptxas reports each kernel as it compiles it; one log per file so parallel runs don't interleave.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
for cu in kernels/cuda/*.cu; do
  echo "$cu"
done | xargs -P "$(nproc)" -I{} sh -c '"$0" -std=c++20 -I. -DGM_CUDA_EMU=0 -O3 \
  --generate-code=arch=compute_90,code=sm_90 --resource-usage -c "$1" -o /dev/null \
  > "$2/$(basename "$1").log" 2>&1' "$nvcc" {} "$logs"
status=0
cat "$logs"/*.log | "$build/kernels/cuda/cuda_resources" --table "$logs/table.inc" || status=$?
if [ "$update" = 1 ]; then
  cp "$logs/table.inc" "$table"
  echo "cuda_resources: wrote $table"
elif ! diff -u "$table" "$logs/table.inc"; then
  echo "cuda_resources: $table differs from what ptxas reports (above); the emulator would" \
    "enforce stale limits. Run scripts/cuda_resources.sh --update-table $build and commit it." >&2
  status=1
fi
exit "$status"
