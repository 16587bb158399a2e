// Folding inference-mode BatchNormalization layers into neighbouring Dense layers.
//
// In inference a BN layer is the per-channel affine map y = s·x + t with
// s = gamma / sqrt(moving_variance + epsilon), t = beta - moving_mean·s, so it can be merged into
// an adjacent Dense (docs/bn_folding.md has the derivation):
//   * BN directly after a Dense with a linear activation (Dense(use_bias=False) -> BN -> Activation):
//     kernel columns scale by s, bias' = (bias - mean)·s + beta (a Dense without bias gets one);
//   * BN directly before a Dense (input BN after Flatten, BN after an activated Dense):
//     kernel' = diag(s)·kernel, bias' = bias + t·kernel.
// The first rule is tried first. Everything else (BN followed by a non-Dense layer, BN as the last
// layer, BN over an axis other than the last) stays, and the report says why.
// All arithmetic is in double, rounded to float once per folded weight.
#pragma once

#include <string>
#include <vector>

#include "keel/model/sequential.h"

namespace keel {

struct BnFold {
  std::string bn_layer;     // "batch_normalization"
  std::string dense_layer;  // "dense"
  bool into_previous;       // true: folded into the Dense before it; false: the one after it
};

struct BnKept {
  std::string bn_layer;
  std::string reason;       // "followed by Dropout 'dropout', not by a Dense"
};

struct FoldResult {
  Model model;                   // new, built, inference only (Dense layer names are kept)
  std::vector<BnFold> folded;
  std::vector<BnKept> kept;

  // Human-readable, one line per BN layer.
  std::string report() const;
};

// `model` must be built; it is not modified (its arena stays bit-identical).
FoldResult fold_batch_norm(const Model& model);

}  // namespace keel
