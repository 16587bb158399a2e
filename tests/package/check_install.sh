#!/usr/bin/env bash
# tests/package/check_install.sh BUILD_DIR MODE: installs keel from BUILD_DIR into a temporary
# prefix, then builds and runs tests/package/train_seed.cpp against the installed files only:
#   MODE cmake       with find_package(keel CONFIG) (tests/package/CMakeLists.txt)
#   MODE pkg-config  with `pkg-config --cflags --libs keel`
set -euo pipefail
build=$(cd "$1" && pwd); mode=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/keel-package-$mode.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
# The consumer must not see the source tree: only the installed headers and library.
test ! -e "$work/prefix/include/keel/../../src"
case "$mode" in
  cmake)
    cmake -S "$here" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
    cmake --build "$work/consumer" >/dev/null
    "$work/consumer/train_seed" ;;
  pkg-config)
    flags=$(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs keel)
    # shellcheck disable=SC2086  # the flags are words
    ${CXX:-c++} -std=c++20 -O2 "$here/train_seed.cpp" -o "$work/train_seed" $flags
    "$work/train_seed" ;;
  *) echo "check_install.sh: unknown MODE '$mode' (allowed: cmake, pkg-config)" >&2; exit 2 ;;
esac
