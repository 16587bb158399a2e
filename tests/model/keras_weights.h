// Golden-file helpers: tensors and model weights from the JSON the tools/golden generators write
// (variables keyed by their Keras names, values flattened row-major).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "keel/core/tensor.h"
#include "keel/model/model.h"

namespace keel::testing {

inline Tensor tensor_of(const nlohmann::json& rows, std::vector<int64_t> dims) {
  std::vector<float> values;
  for (const auto& row : rows) {
    if (row.is_array())
      for (const auto& v : row) values.push_back(v.get<float>());
    else
      values.push_back(row.get<float>());
  }
  return Tensor(std::move(dims), values);
}

inline void set_weights(Model& model, const nlohmann::json& weights) {
  // An unbuilt Sequential has no variables yet: setting nothing must not pass silently.
  ASSERT_FALSE(model.variables().empty()) << "model '" << model.name() << "' has no variables; build() it first";
  for (Variable* v : model.variables()) {
    ASSERT_TRUE(weights.contains(v->name)) << v->name;
    const auto& values = weights[v->name];
    ASSERT_EQ(static_cast<int64_t>(values.size()), v->size()) << v->name;
    for (int64_t i = 0; i < v->size(); ++i) v->value[i] = values[static_cast<size_t>(i)].get<float>();
  }
}

inline void expect_weights(Model& model, const nlohmann::json& weights, const std::string& where) {
  for (Variable* v : model.variables()) {
    const auto& values = weights[v->name];
    for (int64_t i = 0; i < v->size(); ++i) {
      const double want = values[static_cast<size_t>(i)].get<double>();
      ASSERT_NEAR(v->value[i], want, 1e-5 * std::max(1.0, std::fabs(want)))
          << where << ": " << v->name << "[" << i << "]";
    }
  }
}

}  // namespace keel::testing
