#!/usr/bin/env bash
# tools/interop/setup.sh DIR: installs the npm packages the interop tests use into DIR/node_modules
# (idempotent: does nothing when the pinned versions are already there). Pure JS tfjs (tfjs-node
# downloads a native library and cannot install offline); onnxruntime-node with its GPU add-on
# download skipped, the CPU runtime ships inside the package.
set -euo pipefail
dir=${1:?usage: setup.sh DIR}
mkdir -p "$dir"
exec 9>"$dir/.setup.lock"  # parallel test processes: one installs, the others wait
flock 9
have() {  # have PACKAGE VERSION
  local pj="$dir/node_modules/$1/package.json"
  [[ -f $pj ]] && grep -q "\"version\": \"$2\"" "$pj"
}
want=()
have @tensorflow/tfjs 4.22.0 || want+=(@tensorflow/tfjs@4.22.0)
have onnxruntime-node 1.30.0 || want+=(onnxruntime-node@1.30.0)
if ((${#want[@]})); then
  if ! command -v npm >/dev/null; then
    echo "setup.sh: npm (Node.js's package manager) is missing; scripts/install-deps.sh --test installs it" >&2
    exit 1
  fi
  echo "setup.sh: npm install ${want[*]} into $dir" >&2
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$dir" --no-audit --no-fund \
    --loglevel=error "${want[@]}" >&2
fi
