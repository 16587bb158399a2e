#!/usr/bin/env bash
# Installs the Debian packages keel needs, only those that are missing (idempotent).
#   scripts/install-deps.sh            build + run deps (compiler libs, data set)
#   scripts/install-deps.sh --test     also what the tests need (PyTorch for golden values, ONNX checker)
#   scripts/install-deps.sh --bench    also what the benchmarks need
#   scripts/install-deps.sh --docs     also what regenerating docs/ screenshots needs (chromium)
#   scripts/install-deps.sh --fuzz     also clang + its libFuzzer / sanitizer runtimes (fuzz/)
set -euo pipefail

packages=(cmake g++ make pkg-config libdnnl-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
          libgtest-dev libbenchmark-dev dataset-fashion-mnist
          libopenmpi-dev openmpi-bin)  # MPI: data-parallel training (docs/distributed.md)
for arg in "$@"; do
  case "$arg" in
    --test)  packages+=(python3-numpy python3-torch python3-onnx) ;;  # onnx: onnx.checker in the interop tests
    --bench) packages+=(python3-numpy python3-torch) ;;
    --docs)  packages+=(chromium) ;;
    --fuzz)  packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;  # libomp: clang's OpenMP runtime
    *) echo "install-deps.sh: unknown option '$arg' (allowed: --test, --bench, --fuzz, --docs)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || true   # a stale index still lets cached package lists install
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
