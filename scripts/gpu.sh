#!/usr/bin/env bash
# The one command for a machine with an NVIDIA GPU (docs/cuda.md): builds genmodel with CUDA for
# this GPU, checks that the GPU is usable, runs the whole test suite with the real device
# included (every op against the float64 oracle, every CUDA kernel against the CPU), runs it
# again on the GPU alone with our own tiled GEMM instead of cuBLAS, prints the kernel resource
# report, times the kernel lab's versions (the library's own kernels among them), and runs the
# benchmarks (scripts/bench.sh) with the GPU among the devices.
# Usage: scripts/gpu.sh [--no-bench]
# CUDA_ARCH overrides the target architecture (default: the GPU in this machine, "native").
set -euo pipefail
cd "$(dirname "$0")/.."

bench=1
[ "${1:-}" = "--no-bench" ] && bench=0
arch=${CUDA_ARCH:-native}
export OMP_WAIT_POLICY=passive
bash scripts/setup.sh

echo "== build (CUDA for $arch)"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENMODEL_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch"
cmake --build build-gpu -j "$(nproc)"

echo "== the GPU must be usable (else the suites below would skip it)"
build-gpu/genmodel list | sed -n '/^devices/,/^$/p'
GM_REQUIRE_CUDA=1 build-gpu/tests/test_cuda_backend "[gpu]"

echo "== all tests, every device (cpu, cuda-emu, cuda)"
ctest --test-dir build-gpu --output-on-failure -j "$(nproc)"

echo "== all tests on the GPU alone, our tiled GEMM instead of cuBLAS, sentinels on"
GM_TEST_DEVICES=cuda GM_CUDA_GEMM=tiled GM_CUDA_DEBUG_ALLOC=1 \
  ctest --test-dir build-gpu --output-on-failure -j "$(nproc)"

echo "== kernel resources (H100 occupancy model)"
scripts/cuda_resources.sh build-gpu || echo "(a kernel is over its budget: see the table)"

echo "== kernel lab: every version validated, then timed beside cuBLAS/cuDNN (docs/kernel-lab.md)"
build-gpu/benchmarks/lab/kernel_lab_cuda --reps 20 --csv kernel_lab_gpu.csv

if [ "$bench" = 1 ]; then
  echo "== benchmarks (CPU and GPU)"
  scripts/bench.sh
fi
