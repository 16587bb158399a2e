#include "keel/model/callback.h"

#include "keel/model/model.h"

namespace keel {

void Logs::set(std::string_view name, double value) {
  for (auto& [key, v] : items_) {
    if (key == name) {
      v = value;
      return;
    }
  }
  items_.emplace_back(std::string(name), value);
}

std::optional<double> Logs::get(std::string_view name) const {
  for (const auto& [key, v] : items_)
    if (key == name) return v;
  return std::nullopt;
}

bool Callback::is_chief() const { return model_ == nullptr || model_->communicator().is_chief(); }

}  // namespace keel
