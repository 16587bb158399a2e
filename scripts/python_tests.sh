#!/usr/bin/env bash
# scripts/python_tests.sh [BUILD_DIR [PYTEST_ARGS...]]: the Python package's tests (issue 16), run
# by ./test.sh (scripts/mutants.sh passes `-k EXPR` to run some).
# Installs keel (the C++ package) from BUILD_DIR into BUILD_DIR/python/prefix, creates a fresh
# virtual environment, `pip install`s the keel Python package into it linked against that install
# (so the library is not compiled a second time; a plain `pip install .` builds it from source),
# and runs pytest over tests/python. PyPI packages: scikit-build-core, nanobind, numpy, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
shift $(($# > 0 ? 1 : 0))
work=$build/python
rm -rf "$work/venv" "$work/prefix"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
python3 -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install "scikit-build-core>=0.10" "nanobind>=2.0" numpy pytest
"${pip[@]}" install --no-build-isolation \
  -C cmake.define.KEEL_PYTHON_USE_INSTALLED=ON -C "cmake.define.CMAKE_PREFIX_PATH=$work/prefix" \
  -C "build-dir=$work/wheel-build" .
# A fixed thread count (tests/pinned_threads.cpp says why): repeated fits give the same bits.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} KEEL_BIN=$build/keel "$work/venv/bin/python" -m pytest -q -p no:cacheprovider tests/python "$@"
