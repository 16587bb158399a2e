// Folding inference-mode BatchNormalization layers into neighbouring Dense and Conv2D layers, on
// any model graph (Sequential or functional).
//
// In inference a BN layer is the per-channel affine map y = s·x + t with
// s = gamma / sqrt(moving_variance + epsilon), t = beta - moving_mean·s, so it can be merged into
// an adjacent Dense (docs/bn_folding.md has the derivation). Each call of a BN layer is decided on
// its own, in execution order:
//   * into the Dense before it, when that Dense has a linear activation, is called once (not
//     shared), and its output feeds only this BN and is not a model output
//     (Dense(use_bias=False) -> BN -> Activation): kernel columns scale by s,
//     bias' = (bias - mean)·s + beta (a Dense without bias gets one);
//   * else into the Dense layers after it, when every layer reading the BN's output is a Dense
//     called once and that output is not a model output (input BN after Flatten, BN after an
//     activated Dense, a BN feeding two Dense heads): kernel' = diag(s)·kernel,
//     bias' = bias + t·kernel, for each of them. Exact for Dense, which reads no padding.
// A Conv2D is a Dense over image patches (kernel (kh, kw, c_in, c_out) as (kh·kw·c_in, c_out)):
// a BN after it (NHWC, axis -1) folds per output channel as above; a BN before it folds only when
// the convolution reads no zero padding ('valid', or a 1x1 kernel) and is not grouped, since the
// padded zeros would not get the shift t at the borders.
// Everything else (BN feeding an Add or a Dropout, BN as an output, BN over an axis other than the
// last, BN next to a shared Dense) stays, and the report says why.
// All arithmetic is in double, rounded to float once per folded weight.
#pragma once

#include <string>
#include <vector>

#include "keel/model/sequential.h"

namespace keel {

// One BN call folded into one Dense or Conv2D (a BN before two Dense heads gives two entries).
struct BnFold {
  std::string bn_layer;     // "batch_normalization"
  std::string dense_layer;  // the layer it folded into: "dense", "conv2d"
  bool into_previous;       // true: folded into the layer before it; false: the one after it
  std::string into_class = "Dense";  // "Dense" or "Conv2D"
};

struct BnKept {
  std::string bn_layer;
  std::string reason;       // "..., and followed by Dropout 'dropout', not a Dense"
};

struct FoldResult {
  // New and built, for inference: the same graph and layer names without the folded BN calls; a
  // Sequential for a Sequential, else a functional Model with the same input and output names.
  Model model;
  std::vector<BnFold> folded;
  std::vector<BnKept> kept;
  // BN calls in the source model and how many of them were folded away. A BN folded into two
  // Dense heads is one call (and two `folded` entries); a BN layer called twice is two calls.
  int64_t calls_folded = 0, calls_total = 0;

  // Human-readable: one line per fold and per BN call kept.
  std::string report() const;
};

// `model` must be built; it is not modified (its arena stays bit-identical).
FoldResult fold_batch_norm(const Model& model);

}  // namespace keel
