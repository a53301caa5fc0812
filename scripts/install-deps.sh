#!/usr/bin/env bash
# Installs the Debian packages rlvr's build, tests, benchmarks and the study need, if missing.
# Idempotent and quiet when everything is present. CUDA is expected in /usr/local/cuda (optional).
#   bash scripts/install-deps.sh          # build + tests + study + the Python module and its tests
#   bash scripts/install-deps.sh --bench  # also valgrind (instruction counts)
# OpenMPI (libopenmpi-dev, openmpi-bin) builds the rlvr::mpi component and runs the `distributed`
# tests under mpirun, and lets `mpirun -np N rlvr-study` spread the study over processes.
# python3-torch (CPU) is in the default set: the `python` tests (ctest label) compare rlvr.torch
# with PyTorch autograd, and the PyTorch baselines of the benchmarks use it.
set -euo pipefail
pkgs=(g++ clang libclang-rt-14-dev cmake ninja-build libeigen3-dev xtensor-dev libxsimd-dev
      catch2 libbenchmark-dev libcli11-dev nlohmann-json3-dev
      python3-dev pybind11-dev python3-numpy python3-pytest python3-torch
      libopenmpi-dev openmpi-bin)
if [[ "${1:-}" == "--bench" ]]; then pkgs+=(valgrind); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
