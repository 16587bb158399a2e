#include "keel/layers/activation_function.h"

#include <array>
#include <utility>

#include "keel/core/error.h"

namespace keel {

namespace {
constexpr std::array<std::pair<std::string_view, ActivationKind>, 12> kNames{{
    {"linear", ActivationKind::kLinear},
    {"relu", ActivationKind::kRelu},
    {"elu", ActivationKind::kElu},
    {"selu", ActivationKind::kSelu},
    {"leaky_relu", ActivationKind::kLeakyRelu},
    {"tanh", ActivationKind::kTanh},
    {"sigmoid", ActivationKind::kSigmoid},
    {"softmax", ActivationKind::kSoftmax},
    {"softplus", ActivationKind::kSoftplus},
    {"gelu", ActivationKind::kGelu},
    {"swish", ActivationKind::kSwish},
    {"hard_sigmoid", ActivationKind::kHardSigmoid},
}};
}  // namespace

ActivationFunction::ActivationFunction(const char* identifier)
    : ActivationFunction(std::string_view(identifier ? identifier : "")) {}

ActivationFunction::ActivationFunction(std::string_view identifier) {
  if (identifier.empty() || identifier == "None") return;  // Keras: activation=None is linear
  if (identifier == "silu") {
    kind_ = ActivationKind::kSwish;
    return;
  }
  for (const auto& [name, kind] : kNames) {
    if (name == identifier) {
      kind_ = kind;
      return;
    }
  }
  std::string known;
  for (const auto& entry : kNames) known += std::string(known.empty() ? "" : ", ") + std::string(entry.first);
  KEEL_FAIL("unknown activation '", identifier, "'; expected one of: ", known, ", silu");
}

std::string ActivationFunction::keras_name() const {
  for (const auto& [name, kind] : kNames) {
    if (kind == kind_) return std::string(name);
  }
  return "linear";
}

}  // namespace keel
