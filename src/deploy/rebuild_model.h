// rebuild_model: a new model with the graph of another, minus some nodes, for graph
// transformations (BN folding).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>

#include "keel/model/model.h"

namespace keel {

// Makes the new model's copy of a layer: its clone(), or a changed layer with the same name.
using LayerCopier = std::function<std::unique_ptr<Layer>(const Layer&)>;

// A built model with `model`'s graph and names: each layer copied once by `copy` (a shared layer
// stays shared), InputLayers recreated with their names, and the nodes in `bypass` (ids into
// model.nodes(); one input and one output of the same shape) left out, their output replaced by
// their input. A Sequential gives a Sequential. Every variable whose layer and variable name exist
// in `model` with the same size is copied from it; the others keep their initial values.
Model rebuild_model(const Model& model, const std::set<int64_t>& bypass, const LayerCopier& copy);

}  // namespace keel
