#!/usr/bin/env bash
# Builds, on this machine (no GPU needed), a self-contained folder to copy to a machine with an
# NVIDIA GPU and run there with scripts/gpu-run.sh (docs/cuda.md, "A run on a GPU machine"):
#   bin/    genmodel, bench_train_step, the kernel lab, the op and CUDA test binaries (stripped)
#   lib/    every shared library they need (ldd) except the C/C++ runtimes and the NVIDIA ones
#           (files of bin/ and lib/ over 1 MiB are stored xz-compressed; gpu-run.sh unpacks
#           them into its output folder)
#   data/   the Fashion-MNIST files
#   scripts/gpu-run.sh, benchmarks/pytorch_reference.py, MANIFEST (what was built, from what)
# The CUDA runtime is linked statically. cuBLAS, cuDNN and NCCL are not bundled: gpu-run.sh
# finds them on the GPU machine (toolkit lib64, or the nvidia-* pip packages beside PyTorch).
# CPU code is built without -march=native (GENMODEL_NATIVE=OFF): the GPU machine's CPU is not
# this one.
#
# Usage: scripts/gpu-bundle.sh [OUT]        (default build-bundle/genmodel-gpu; CUDA_ARCH, default
#                                            90, picks the GPU architecture)
#        scripts/gpu-bundle.sh --emu [OUT]  the same layout from the CPU + cuda-emu build in
#                                            build/ (no nvcc): checks this script and
#                                            gpu-run.sh --emu on a machine without a GPU
set -euo pipefail
cd "$(dirname "$0")/.."

emu=0
if [ "${1:-}" = "--emu" ]; then
  emu=1
  shift
fi
arch=${CUDA_ARCH:-90}
limit_mib=60
tests="test_cuda_backend test_cuda_conformance test_elementwise test_conv test_masked_conv
  test_softmax_xent test_lstm_cell test_gaussian test_likelihoods test_shape_reduce test_optim
  test_cuda_graph"
tools="genmodel bench_train_step"

if [ "$emu" = 1 ]; then
  out=${1:-build-bundle/genmodel-emu}
  build=build
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENMODEL_CUDA=OFF > /dev/null
  lab=kernel_lab
else
  out=${1:-build-bundle/genmodel-gpu}
  build="build-bundle/build"
  nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  [ -x "$nvcc" ] || { echo "gpu-bundle: no nvcc (install the CUDA toolkit, or use --emu)" >&2; exit 1; }
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGENMODEL_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" -DGENMODEL_NATIVE=OFF > /dev/null
  lab=kernel_lab_cuda
fi
# shellcheck disable=SC2086
cmake --build "$build" -j "$(nproc)" --target $tools $tests $lab

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/data" "$out/scripts" "$out/benchmarks"
binaries=()
for t in $tools; do binaries+=("$build/$t" "$build/benchmarks/$t"); done
for t in $tests; do binaries+=("$build/tests/$t"); done
binaries+=("$build/benchmarks/lab/$lab")
for b in "${binaries[@]}"; do
  [ -f "$b" ] || continue
  cp "$b" "$out/bin/"
  strip "$out/bin/$(basename "$b")"
done

# What is not bundled: the C and C++ runtimes (every Linux has them, and they must match its
# loader) and NVIDIA's libraries (they must match the GPU's driver; gpu-run.sh finds them).
not_bundled='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so|libcuda\.so|libcublas|libcublasLt|libcudnn|libnccl|libnvrtc|libcudart)'
for b in "$out"/bin/*; do
  ldd "$b" | awk '/=> \//{print $1, $3}'
done | sort -u | while read -r name path; do
  [[ "$name" =~ $not_bundled ]] && continue
  cp -L "$path" "$out/lib/$name"
done

cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$out/data/"
cp scripts/gpu-run.sh "$out/scripts/"
cp benchmarks/pytorch_reference.py "$out/benchmarks/"
{
  echo "genmodel GPU bundle"
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $([ "$emu" = 1 ] && echo "cuda-emu only (--emu)" || echo "CUDA sm_$arch, $("$nvcc" --version | tail -1)")"
  echo "binaries: $(cd "$out/bin" && echo *)"
  echo "bundled libraries: $(cd "$out/lib" && echo *)"
} > "$out/MANIFEST"

# Check: with an empty environment and only the bundle's libraries, every binary resolves each
# library either inside the bundle or as a C/C++ runtime or NVIDIA library.
check=$out/lib
bad=0
for b in "$out"/bin/*; do
  while read -r name path; do
    if [ "$path" = "not" ]; then
      if ! [[ "$name" =~ $not_bundled ]]; then
        echo "gpu-bundle: $(basename "$b") needs $name, which is neither bundled nor NVIDIA's" >&2
        bad=1
      fi
      continue
    fi
    [[ "$path" == "$check/"* || "$name" =~ $not_bundled ]] && continue
    echo "gpu-bundle: $(basename "$b") resolves $name outside the bundle ($path)" >&2
    bad=1
  done < <(env -i LD_LIBRARY_PATH="$check" ldd "$b" | awk '/=>/{print $1, $3}')
done
env -i LD_LIBRARY_PATH="$check" "$out/bin/genmodel" --help > /dev/null ||
  { echo "gpu-bundle: genmodel does not start with only the bundle's libraries" >&2; bad=1; }
[ "$bad" = 0 ] || exit 1

# Files over 1 MiB are stored xz-compressed (OpenBLAS alone is 35 MiB, and every test binary
# carries the whole engine); gpu-run.sh unpacks them into its output folder.
for f in "$out"/bin/* "$out"/lib/*; do
  if [ "$(stat -c %s "$f")" -gt $((1024 * 1024)) ]; then xz -T0 -6 "$f"; fi
done

size_mib=$(du -sm "$out" | cut -f1)
echo "gpu-bundle: $out, ${size_mib} MiB"
[ "$size_mib" -le "$limit_mib" ] || { echo "gpu-bundle: over ${limit_mib} MiB" >&2; exit 1; }
