#!/usr/bin/env bash
# Sets up a fresh machine, builds genmodel and runs the whole test suite, then the CUDA checks
# that need no GPU (docs/cuda.md):
#   1. build/       CPU + emulated CUDA (cuda-emu), all tests; the GPU bundle and run script
#                   on cuda-emu (scripts/gpu-bundle.sh --emu, scripts/gpu-run.sh --emu);
#   2. build-cuda/  the nvcc compile gate: every kernel for sm_80 and sm_90, ptxas warnings about
#                   spills and local memory as errors; a binary linked with the real CUDA
#                   runtime reports "no GPU" instead of failing; the kernel resource report
#                   (registers, shared memory, H100 occupancy) checked against its budgets;
#                   build-cuda-make/: the same configured with the default Makefile generator,
#                   one kernel file compiled; skipped, with a message, where nvcc is not
#                   installed;
#   3. build-asan/  AddressSanitizer + UBSan: the simt executor and cuda-emu tests, and every
#                   op test on cuda-emu only;
#   4. build-fuzz/  every reader's libFuzzer harness (clang, ASan + UBSan) for 10 s each,
#                   failing on any finding (scripts/fuzz.sh, docs/fuzzing.md).
# Usage: scripts/test.sh            (from the repository root)
#        GM_TEST_STAGES="1 3" scripts/test.sh   runs only the listed stages
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=$(nproc)
stages=${GM_TEST_STAGES:-1 2 3 4}
# Idle OpenMP threads sleep instead of spinning: ctest runs several test binaries at once, and
# spinning workers of one would steal the cores the others need.
export OMP_WAIT_POLICY=passive

timings=()
stage_start() { echo "== $1"; stage_name=$1; stage_t0=$SECONDS; }
stage_end() { timings+=("$(printf '%5ds  %s' $((SECONDS - stage_t0)) "$stage_name")"); }
wants() { [[ " $stages " == *" $1 "* ]]; }

if wants 1; then
  stage_start "1. configure and build (CPU + emulated CUDA), all tests"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENMODEL_CUDA=OFF
  cmake --build build -j "$jobs"
  ctest --test-dir build --output-on-failure -j "$jobs"
  # The GPU bundle and its run script, on cuda-emu with tiny budgets (docs/cuda.md): the bundle
  # is self-contained and every stage of the run starts.
  scripts/gpu-bundle.sh --emu build-bundle/genmodel-emu
  scripts/gpu-run.sh --emu build-bundle/genmodel-emu build-bundle/run-emu
  stage_end
fi

if wants 2; then
  nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  if [ -x "$nvcc" ]; then
    stage_start "2. nvcc compile gate (sm_80, sm_90), no-GPU run, resource report"
    cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENMODEL_CUDA=ON \
      -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="80;90"
    # kernel_lab_cuda: the lab's versions, the library's own kernels (v5) among them, under nvcc.
    # genmodel_nccl: data-parallel gradients over NCCL (docs/distributed.md), when found.
    # (CMake looks for NCCL only when it found MPI too.)
    nccl_target=$(grep -q "^NCCL_LIBRARY:FILEPATH=/" build-cuda/CMakeCache.txt &&
      echo genmodel_nccl || true)
    cmake --build build-cuda -j "$jobs" --target genmodel_cuda_kernels cuda_resources \
      test_cuda_backend kernel_lab_cuda $nccl_target
    # Linked with the CUDA runtime, on a machine without a driver: the device is reported as
    # unavailable with the runtime's reason, and nothing fails.
    build-cuda/tests/test_cuda_backend "a machine without a GPU reports the cuda device as unavailable"
    scripts/cuda_resources.sh build-cuda
    # The plainest build, `cmake -S . -B build`, uses CMake's default generator (Makefiles),
    # which checks every target's CUDA dialect when it generates: configure it with CUDA on and
    # compile one kernel file, so both generators stay working (the CPU-only configuration has
    # no CUDA language, so the generator makes no difference there).
    cmake -S . -B build-cuda-make -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release -DGENMODEL_CUDA=ON \
      -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="80;90" > /dev/null
    make -C build-cuda-make/kernels/cuda fill.cu.o
    stage_end
  else
    echo "== 2. skipped: no nvcc (install the CUDA toolkit to run the compile gate)"
  fi
fi

if wants 3; then
  stage_start "3. AddressSanitizer + UBSan: simt, cuda-emu and the op tests on cuda-emu"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGENMODEL_CUDA=OFF \
    -DGENMODEL_SANITIZE=ON
  asan_tests=(test_simt test_simt_resources test_cuda_backend test_cuda_conformance test_elementwise
    test_shape_reduce test_conv test_softmax_xent test_lstm_cell test_gaussian test_likelihoods
    test_pixelrnn test_lstm_scan_cuda)
  cmake --build build-asan -j "$jobs" --target "${asan_tests[@]}"
  export UBSAN_OPTIONS=print_stacktrace=1
  # cuda-emu only: the CPU backend is not what this step checks. Two binaries at a time.
  printf '%s\n' "${asan_tests[@]}" | GM_TEST_DEVICES=cuda-emu xargs -P "$jobs" -I{} \
    sh -c 'out=$(build-asan/tests/{} 2>&1) || { echo "$out"; echo "FAILED: {}"; exit 1; };
           echo "$out" | tail -n 1 | sed "s/^/{}: /"'
  stage_end
fi

if wants 4; then
  stage_start "4. fuzzing every reader (libFuzzer, ASan + UBSan), 10 s each"
  scripts/fuzz.sh 10
  stage_end
fi

echo "== timings"
printf '%s\n' "${timings[@]}"
