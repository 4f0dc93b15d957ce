#!/usr/bin/env bash
# One set-up command: installs every Debian package ptx needs, then configures and builds.
# Idempotent: packages already present are skipped by apt, and a second build only rebuilds
# what changed (ccache + CMake's own dependency tracking).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libgloo-dev libopenblas0-pthread        # LibTorch (CPU) with c10d/Gloo; fast BLAS
  libdcmtk-dev dcmtk                                   # DICOM read/write (+ dcmdump for checks)
  libopencv-dev libdeflate-dev                         # image resize, JPEG decoding, CLAHE; fast PNG deflate
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev      # configs, CLI, JSON
  libgtest-dev libgmock-dev libbenchmark-dev           # tests and benchmarks
  libcpp-httplib-dev libssl-dev                        # ptx serve (HTTP; SHA-256 of checkpoints)
  python3-torch python3-torchvision python3-numpy      # reference outputs in parity tests
  python3-pydicom python3-opencv                       # the Python peer in bench/
  chromium chromium-driver                             # browser test of ptx serve
  orthanc orthanc-dicomweb dicom3tools                 # a real PACS for ptx node's tests; dciodvfy
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "${PTX_BUILD_JOBS:-$(nproc)}"
