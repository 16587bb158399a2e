// The README's functional-API example, compiled and run by the tests: a residual MLP built with
// keel::Input and layers called on tensors, its Keras summary, and a short fit on synthetic data.
// Exits non-zero if training did not learn the problem.
#include <cstdio>
#include <iostream>

#include "keel/core/rng.h"
#include "keel/layers/layers.h"
#include "keel/model/model.h"

int main() {
  // Three Gaussian blobs in 16 dimensions.
  keel::Tensor x({900, 16}), y({900, 1});
  keel::Rng rng(1);
  for (int64_t i = 0; i < 900; ++i) {
    const auto label = static_cast<int64_t>(rng.uniform_int(3));
    y[i] = static_cast<float>(label);
    for (int64_t j = 0; j < 16; ++j)
      x[i * 16 + j] = static_cast<float>(rng.normal() + (j % 3 == label ? 1.0 : 0.0));
  }

  keel::KerasTensor inputs = keel::Input({16});
  keel::KerasTensor h = keel::Dense(32)(inputs);
  for (int block = 0; block < 2; ++block) {
    keel::KerasTensor branch = keel::Dense(32, {.activation = "elu"})(h);
    branch = keel::Dense(32)(branch);
    h = keel::Add()({h, branch});  // the residual connection
  }
  keel::Model model(inputs, keel::Dense(3, {.activation = "softmax"})(h), "residual_mlp");
  std::cout << model.summary();

  model.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  const keel::History history = model.fit(x, y, {.epochs = 5, .verbose = 0});
  const double accuracy = history["accuracy"].back();
  std::printf("accuracy after 5 epochs: %.3f\n", accuracy);
  return accuracy > 0.8 ? 0 : 1;
}
