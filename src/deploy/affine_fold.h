// What BN folding needs from layers, by layer class (a registry, not a dynamic_cast chain), and the
// folding arithmetic (docs/bn_folding.md has the derivation).
//
// An affine source is a layer that in inference is y = s·x + t per channel of the last axis
// (BatchNormalization); an affine sink is a layer x·W + b followed by an activation (Dense, and
// Conv2D, a matrix product over image patches), which can absorb a source's map on its output side
// when the activation is linear, and on its input side unless it says why not (a Conv2D whose zero
// padding would not see the shift t). All arithmetic is in double, rounded to float once per stored weight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "keel/layers/layer.h"

namespace keel::fold {

// y = s·x + t per channel.
struct Affine {
  std::vector<double> s, t;
};

// A sink's kernel (fan_in, units), row-major, and bias (units; zeros when it has none). Kernel row
// r reads input channel r % in_channels: a Dense's rows are its input features (in_channels =
// fan_in); a Conv2D kernel (kh, kw, c_in, c_out) is (kh·kw·c_in, c_out) with in_channels = c_in.
struct LinearWeights {
  int64_t fan_in = 0, units = 0, in_channels = 0;
  std::vector<double> kernel, bias;
};

// Sink then source: z = x·W + b; y = s·z + t  =>  W' = W·diag(s), b' = s·b + t.
void fold_into_previous(LinearWeights& w, const Affine& a);
// Source then sink: y = (s·x + t)·W + b  =>  W' = diag(s)·W, b' = b + t·W (s, t of each row's
// input channel; exact only when every kernel row reads real input, never zero padding).
void fold_into_next(LinearWeights& w, const Affine& a);

struct AffineSource {
  // Why the layer's map cannot fold into a sink (it normalizes another axis), or "".
  std::string (*cannot_fold)(const Layer& layer);
  Affine (*affine)(const Layer& layer);
};

struct AffineSink {
  // Keras name of the activation after x·W + b ("linear" lets a following map fold in).
  std::string (*activation)(const Layer& layer);
  // Why a source before the layer cannot fold into it, or "".
  std::string (*cannot_absorb_input)(const Layer& layer);
  LinearWeights (*load)(const Layer& layer);
  // A new layer with the same name and configuration, but with a bias (folded weights have one).
  std::unique_ptr<Layer> (*with_bias)(const Layer& layer);
  // Writes `w` into the variables of a built layer made by with_bias.
  void (*store)(const LinearWeights& w, Layer& layer);
};

// The entries for the layer's exact class, or nullptr.
const AffineSource* affine_source(const Layer& layer);
const AffineSink* affine_sink(const Layer& layer);

}  // namespace keel::fold
