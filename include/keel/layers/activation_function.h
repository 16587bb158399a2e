// ActivationFunction: the Keras activation identifiers a Dense or Activation layer can hold.
#pragma once

#include <string>
#include <string_view>

#include "keel/kernels/activation_kind.h"

namespace keel {

class ActivationFunction {
 public:
  ActivationFunction() = default;  // linear
  // Keras identifiers: "linear" (and empty / "None"), "relu", "elu", "selu", "leaky_relu", "tanh",
  // "sigmoid", "softmax", "softplus", "gelu", "swish" (alias "silu"), "hard_sigmoid" (Keras 2's
  // clip(0.2·z + 0.5, 0, 1), the old LSTM/GRU recurrent_activation). Unknown names throw.
  ActivationFunction(const char* identifier);  // NOLINT: implicit, so options read like Keras
  ActivationFunction(std::string_view identifier);

  ActivationKind kind() const { return kind_; }
  // The name Keras writes into configs ("linear", "elu", ...).
  std::string keras_name() const;

 private:
  ActivationKind kind_ = ActivationKind::kLinear;
};

}  // namespace keel
