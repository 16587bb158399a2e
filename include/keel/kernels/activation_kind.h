// ActivationKind: the activations the kernels implement. A plain enum in kernels/ so kernels need
// nothing from layers/ (layers/activation_function.h maps Keras identifiers onto it).
#pragma once

namespace keel {

enum class ActivationKind {
  kLinear, kRelu, kElu, kSelu, kLeakyRelu, kTanh, kSigmoid, kSoftmax, kSoftplus, kGelu, kSwish
};

}  // namespace keel
