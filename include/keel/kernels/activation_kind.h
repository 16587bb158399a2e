// ActivationKind: the activations the kernels implement. A plain enum in kernels/ so kernels need
// nothing from layers/ (layers/activation_function.h maps Keras identifiers onto it).
#pragma once

namespace keel {

enum class ActivationKind {
  kLinear, kRelu, kElu, kSelu, kLeakyRelu, kTanh, kSigmoid, kSoftmax, kSoftplus, kGelu, kSwish,
  kHardSigmoid
};

// Activations whose derivative activation_backward computes from the output alone: a layer that
// produces them (Dense, Conv2D) can write its pre-activation straight into y and keep no copy.
inline bool backward_needs_only_output(ActivationKind kind) {
  return kind == ActivationKind::kLinear || kind == ActivationKind::kRelu || kind == ActivationKind::kElu ||
         kind == ActivationKind::kSelu || kind == ActivationKind::kTanh ||
         kind == ActivationKind::kSigmoid;
}

}  // namespace keel
