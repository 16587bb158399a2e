#!/usr/bin/env bash
# Installs the Debian packages keel needs, only those that are missing (idempotent).
#   scripts/install-deps.sh            build + run deps (compiler libs, data set)
#   scripts/install-deps.sh --test     also what the tests need (ONNX checker, Node.js + npm for the
#                                      interop tests, and their npm packages under build/interop)
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
             # Node.js and npm are checked by command below: NodeSource's nodejs ships npm itself.
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

# The interop tests (tests/interop) run TF.js and ONNX Runtime under Node.js. Checked by command,
# not by package: NodeSource's nodejs (which bundles npm) conflicts with Debian's npm package.
if [[ " $* " == *" --test "* ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  for tool in node npm; do
    command -v "$tool" >/dev/null && continue
    if [[ $tool == node ]]; then pkg=nodejs name="Node.js (node)"; else pkg=npm name="npm"; fi
    echo "install-deps.sh: $name is missing; installing the Debian package $pkg" >&2
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$pkg" >&2 || true
    if ! command -v "$tool" >/dev/null; then
      echo "install-deps.sh: $name is still not on PATH after installing $pkg; the interop tests" \
           "(tests/interop) need it" >&2
      exit 1
    fi
  done
  # The npm packages (pinned, idempotent) into the build tree ./test.sh uses; the tests run the
  # same script, so another build directory gets them on its first interop test.
  bash "$(dirname "$0")/../tools/interop/setup.sh" "$(dirname "$0")/../build/interop"
fi
