#!/usr/bin/env bash
# Installs everything genmodel needs from Debian's packages. Safe to run twice:
# apt-get skips what is already installed, and the package list is only
# refreshed when a package is missing.
set -euo pipefail

packages=(
  cmake g++ make ninja-build pkg-config
  libfmt-dev catch2 libstb-dev libopenblas-dev nlohmann-json3-dev libcli11-dev
  zlib1g-dev libboost-context-dev
  dataset-fashion-mnist
)

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
