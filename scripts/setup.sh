#!/usr/bin/env bash
# Installs everything genmodel needs from Debian's packages. Safe to run twice:
# apt-get skips what is already installed, and the package list is only
# refreshed when a package is missing.
set -euo pipefail

packages=(
  cmake g++ make ninja-build pkg-config
  libfmt-dev catch2 libstb-dev libopenblas-openmp-dev nlohmann-json3-dev libcli11-dev
  zlib1g-dev libboost-context-dev libpng-dev libturbojpeg0-dev
  # clang with libFuzzer and the sanitizers' runtimes, and its OpenMP: scripts/fuzz.sh. Version
  # 16, not Debian's default 14: the simt executor uses std::source_location, which libstdc++ 12
  # offers only to compilers with __builtin_source_location (clang 15 and later).
  clang-16 libclang-rt-16-dev libomp-16-dev
  # Open MPI: data-parallel training (docs/distributed.md)
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist
  # scripts/gpu-bundle.sh (stage 1 of scripts/test.sh builds the emulated bundle): strip, xz
  binutils xz-utils
)

# Optional: Python's safetensors and numpy, for the ctest that reads our checkpoints with
# Python's own library (tests/python_interop.cmake adds it only where they import). Best
# effort: without pip or a network every other test still builds and passes.
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import safetensors.numpy, numpy" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --timeout 30 safetensors numpy 2>/dev/null ||
    echo "setup: optional Python packages safetensors/numpy not installed; the interop test is skipped"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
