// Fixup (Zhang, Dauphin & Ma, ICLR 2019, arXiv:1901.09321): training a deep residual network
// without normalization layers, by its initialisation and a few scalar parameters.
//
//   keel::Model model = keel::resnet_mlp_plain(32);   // or any functional residual model
//   keel::fixup(model);                                // before compile()
//
// Residual branches: an Add of two tensors (s, e) where e is computed from s by a chain of
// single-input layers whose intermediate tensors feed nothing else. L is the number of branches,
// m a branch's number of weight layers (layers with a variable of rank >= 2: Dense kernels).
//
// fixup() rewrites the model in place (the model keeps its name, layers and their weights) and
// initialises it (paper §3, keras-semantics-r2.md 6.1):
//   * the last weight layer of each branch and the classifier (the last weight layer before the
//     model's output) start at zero, all their variables (kernel and bias);
//   * the other weight layers of a branch are He-initialised (Keras he_normal: truncated normal,
//     std sqrt(2 / fan_in)) and scaled by L^(-1/(2m-2)); their other variables are kept;
//   * a FixupBias (scalar, 0) is inserted before each weight layer and each element-wise
//     Activation layer of a branch, and before the classifier; a FixupScale (scalar, 1) and then
//     a FixupBias end each branch: out = scale·branch + bias, as the official code's
//     `out * self.scale + self.bias2b`.
// Layers outside the branches (the stem) keep their values.
//
// Where the biases go when a Dense has its activation inside (Dense(128, activation="elu")): the
// Dense's own bias vector, zero-initialised like Keras's default, is the bias between the linear
// map and the activation (a per-unit bias subsumes Fixup's scalar one; the paper's convolutions have
// no bias, hence its scalars). So the branch Dense(elu) -> Dense becomes
//   FixupBias -> Dense(elu) -> FixupBias -> Dense -> FixupScale -> FixupBias
// and a branch written Dense -> Activation("elu") -> Dense gets one more FixupBias before the
// Activation, as the paper states it.
//
// Throws keel::Error naming the model when it has no residual branch, is compiled, already has
// Fixup layers, has a normalization layer or no weight layer inside a branch, or no classifier.
#pragma once

#include <cstdint>

#include "keel/model/model.h"

namespace keel {

// The random stream (Rng(seed, stream)) of fixup()'s draws: not the one Model::build initialises
// the model's weights from (0), so a model built and fixed up with one seed gets independent draws.
inline constexpr uint64_t kFixupRngStream = 1;

// Applies Fixup to `model` (see above); `seed` draws the He-normal weights of the branches.
// Returns L, the number of residual branches.
int64_t fixup(Model& model, uint64_t seed = 42);

}  // namespace keel
