// The seed's model-building code (Hands-On ML ch. 11.1.3) with keel's C++ API. The Keras original:
//
//   model = keras.models.Sequential([
//       keras.layers.Flatten(input_shape=[28, 28]),
//       keras.layers.BatchNormalization(),
//       keras.layers.Dense(300, activation="elu", kernel_initializer="he_normal"),
//       keras.layers.BatchNormalization(),
//       keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"),
//       keras.layers.BatchNormalization(),
//       keras.layers.Dense(10, activation="softmax")
//   ])
//   model.summary()
//   [(var.name, var.trainable) for var in model.layers[1].variables]
//
// Run by the tests: exits non-zero if the parameter counts or BN variables differ from the book.
#include <iostream>

#include "keel/layers/layers.h"
#include "keel/model/sequential.h"

int main() {
  keel::Sequential model(
      keel::Flatten({.input_shape = {28, 28}}),
      keel::BatchNormalization(),
      keel::Dense(300, {.activation = "elu", .kernel_initializer = "he_normal"}),
      keel::BatchNormalization(),
      keel::Dense(100, {.activation = "elu", .kernel_initializer = "he_normal"}),
      keel::BatchNormalization(),
      keel::Dense(10, {.activation = "softmax"}));
  model.build();
  std::cout << model.summary();

  std::cout << "[";
  const auto& bn_variables = model.layer(1).variables();
  for (size_t i = 0; i < bn_variables.size(); ++i) {
    std::cout << (i ? ", " : "") << "('" << bn_variables[i].name << "', "
              << (bn_variables[i].trainable ? "True" : "False") << ")";
  }
  std::cout << "]\n";

  // The book's numbers: 271,346 parameters, 268,978 trainable, 2,368 non-trainable.
  const bool ok = model.count_params() == 271346 && model.trainable_params() == 268978 &&
                  model.non_trainable_params() == 2368 && bn_variables.size() == 4 &&
                  bn_variables[0].name == "batch_normalization/gamma:0" && bn_variables[0].trainable &&
                  bn_variables[1].name == "batch_normalization/beta:0" && bn_variables[1].trainable &&
                  bn_variables[2].name == "batch_normalization/moving_mean:0" && !bn_variables[2].trainable &&
                  bn_variables[3].name == "batch_normalization/moving_variance:0" && !bn_variables[3].trainable;
  if (!ok) std::cerr << "seed_model: parameter counts or BN variables differ from the book\n";
  return ok ? 0 : 1;
}
