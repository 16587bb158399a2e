// The callbacks example of docs/observability.md, compiled and run by the tests on a small
// synthetic problem. Exits non-zero if a callback did not leave its output behind.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "keel/callbacks/csv_logger.h"
#include "keel/callbacks/early_stopping.h"
#include "keel/callbacks/learning_rate_scheduler.h"
#include "keel/callbacks/model_checkpoint.h"
#include "keel/callbacks/reduce_lr_on_plateau.h"
#include "keel/callbacks/tensorboard.h"
#include "keel/callbacks/terminate_on_nan.h"
#include "keel/core/rng.h"
#include "keel/layers/layers.h"
#include "keel/model/sequential.h"

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("keel_callbacks_example_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::current_path(dir);

  // Three Gaussian blobs in 8 dimensions.
  keel::Tensor x({600, 8}), y({600, 1});
  keel::Rng rng(1);
  for (int64_t i = 0; i < 600; ++i) {
    const auto label = static_cast<int64_t>(rng.uniform_int(3));
    y[i] = static_cast<float>(label);
    for (int64_t j = 0; j < 8; ++j)
      x[i * 8 + j] = static_cast<float>(rng.normal() + (j % 3 == label ? 1.5 : 0.0));
  }
  keel::Sequential model(keel::Flatten({.input_shape = {8}}), keel::BatchNormalization(),
                         keel::Dense(32, {.activation = "elu", .kernel_initializer = "he_normal"}),
                         keel::BatchNormalization(), keel::Dense(3, {.activation = "softmax"}));
  model.compile({.loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});

  // As in docs/observability.md:
  model.fit(x, y, {.epochs = 50, .verbose = 0, .validation_split = 0.1, .callbacks = {
      std::make_shared<keel::TerminateOnNaN>(),
      std::make_shared<keel::TensorBoard>("logs", keel::TensorBoardOptions{.grad_norm_every = 100}),
      std::make_shared<keel::CSVLogger>("history.csv"),
      std::make_shared<keel::EarlyStopping>(keel::EarlyStoppingOptions{.patience = 5,
                                                                       .restore_best_weights = true}),
      std::make_shared<keel::ReduceLROnPlateau>(keel::ReduceLROnPlateauOptions{.patience = 3}),
      std::make_shared<keel::LearningRateScheduler>([](int64_t, double lr) { return lr; }),
      std::make_shared<keel::ModelCheckpoint>("ck/checkpoint.keel"),  // last: it saves the others' state
  }});

  std::ifstream csv("history.csv");
  std::string header, row;
  std::getline(csv, header);
  const bool has_row = static_cast<bool>(std::getline(csv, row));
  const bool ok = header.rfind("epoch,", 0) == 0 && has_row && fs::exists("ck/checkpoint.keel") &&
                  fs::exists("logs/train") && fs::exists("logs/validation");
  std::cout << "history.csv header: " << header << "\n";
  fs::current_path(fs::temp_directory_path());
  fs::remove_all(dir);
  if (!ok) std::cerr << "callbacks example: an expected output file is missing\n";
  return ok ? 0 : 1;
}
