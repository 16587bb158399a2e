#!/usr/bin/env bash
# Fails when an #include runs against DESIGN.md's one-way module order:
#   core <- {kernels, dist} <- layers <- {losses, metrics, optimizers} <- model <- io <- deploy
#        <- callbacks <- cli / python
# A module may include its own headers and those of modules to its left. Modules on the same
# level ({kernels, dist}; {losses, metrics, optimizers}) may not include each other. deploy sits
# above io (not beside it, as DESIGN.md draws it): BN folding rebuilds models from Keras configs.
# dist sits just above core (DESIGN.md draws it beside io): the layer contract's Context carries
# the communicator, so layers (synchronized BN) and the training loop must see its interface.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A level=([core]=0 [kernels]=1 [layers]=2 [losses]=3 [metrics]=3 [optimizers]=3
                  [model]=4 [io]=5 [dist]=1 [deploy]=6 [callbacks]=7 [cli]=8 [python]=8)
bad=0
while IFS= read -r file; do
  module=${file#include/keel/}; module=${module#src/}; module=${module%%/*}
  [[ -n ${level[$module]:-} ]] || continue
  while IFS= read -r line; do
    target=$(sed -E 's/^#include "keel\/([a-z_]+)\/.*/\1/' <<<"$line")
    [[ $target == "$module" || -z ${level[$target]:-} ]] && continue
    if (( level[$target] >= level[$module] )); then
      echo "check_layering: $file includes keel/$target/ but $module may only use modules below it: $line" >&2
      bad=1
    fi
  done < <(grep -E '^#include "keel/[a-z_]+/' "$file" || true)
done < <(find include/keel src -name '*.h' -o -name '*.cpp' | sort)
if ((bad)); then
  echo "check_layering: FAILED (DESIGN.md, Architecture)" >&2
  exit 1
fi
echo "check_layering: every include follows the module order"
