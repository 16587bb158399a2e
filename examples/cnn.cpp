// docs/cnn.md's example, compiled and run by the tests: a small CNN (Conv2D, BN before the
// activation, MaxPooling2D) learns which quadrant of a 28x28 image holds a bright square.
// Exits non-zero if it did not learn the problem.
#include <cstdio>
#include <iostream>

#include "keel/core/rng.h"
#include "keel/layers/layers.h"
#include "keel/model/sequential.h"

int main() {
  const int64_t n = 256;
  keel::Tensor x({n, 28, 28}), y({n, 1});
  keel::Rng rng(2);
  for (int64_t i = 0; i < n; ++i) {
    const auto quadrant = static_cast<int64_t>(rng.uniform_int(4));
    y[i] = static_cast<float>(quadrant);
    const int64_t top = (quadrant / 2) * 14 + 3, left = (quadrant % 2) * 14 + 3;
    for (int64_t p = 0; p < 28 * 28; ++p) x[i * 784 + p] = static_cast<float>(0.3 * rng.uniform());
    for (int64_t r = top; r < top + 6; ++r)
      for (int64_t c = left; c < left + 6; ++c) x[i * 784 + r * 28 + c] += 1.0f;
  }

  keel::Sequential model(
      keel::Reshape({28, 28, 1}, {.input_shape = {28, 28}}),
      keel::Conv2D(8, 3, {.padding = "same", .use_bias = false, .kernel_initializer = "he_normal"}),
      keel::BatchNormalization(), keel::Activation("relu"),
      keel::MaxPooling2D(),
      keel::Flatten(), keel::Dense(4, {.activation = "softmax"}));
  model.build();
  std::cout << model.summary();
  model.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  model.fit(x, y, {.batch_size = 32, .epochs = 3, .verbose = 0});
  const double accuracy = *model.evaluate(x, y).get("accuracy");
  std::printf("training accuracy after 3 epochs: %.3f\n", accuracy);
  return accuracy >= 0.9 ? 0 : 1;
}
