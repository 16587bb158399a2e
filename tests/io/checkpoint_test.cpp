// Checkpoint format round trip, rejection of corrupt / foreign / newer files, and exact resume of
// fit() through capture/restore_training_state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "../callbacks/watch_helpers.h"
#include "keel/callbacks/early_stopping.h"
#include "keel/core/error.h"
#include "keel/io/checkpoint.h"
#include "keel/optimizers/adam.h"

namespace keel {
namespace {
using namespace watch_test;

TEST(Checkpoint, RoundTripsEveryType) {
  Checkpoint ck;
  ck.put_floats("a", std::vector<float>{1.5f, -2.0f, 3.25f});
  ck.put_double("b", 0.1);
  ck.put_int64("c", -7);
  ck.put_uint64s("d", std::vector<uint64_t>{~0ull, 1});
  const auto dir = fresh_dir("ckpt");
  ck.save(dir / "x.keel");
  const Checkpoint back = Checkpoint::load(dir / "x.keel");
  EXPECT_EQ(back.floats("a"), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(back.get_double("b"), 0.1);
  EXPECT_EQ(back.get_int64("c"), -7);
  EXPECT_EQ(back.uint64s("d"), (std::vector<uint64_t>{~0ull, 1}));
  EXPECT_THROW(back.get_int64("a"), Error);
  EXPECT_THROW(back.floats("missing"), Error);
}

TEST(Checkpoint, RejectsCorruptionTruncationAndUnknownVersions) {
  Checkpoint ck;
  ck.put_floats("w", std::vector<float>(100, 1.0f));
  auto bytes = ck.serialize();
  EXPECT_NO_THROW(Checkpoint::deserialize(bytes, "t"));
  auto flipped = bytes;
  flipped[40] ^= std::byte{1};
  EXPECT_THROW(Checkpoint::deserialize(flipped, "t"), Error);
  for (size_t cut : {size_t{0}, size_t{10}, size_t{30}, bytes.size() - 1})
    EXPECT_THROW(Checkpoint::deserialize(std::span(bytes).first(cut), "t"), Error) << cut;
  auto v2 = bytes;
  v2[8] = std::byte{2};
  try {
    Checkpoint::deserialize(v2, "t");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, ResumedFitIsBitIdenticalToStraightFit) {
  Tensor x, y;
  make_data(130, x, y);
  auto compile = [](Model& m) {
    m.compile({.optimizer = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01}),
               .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  };
  Model straight = small_model();
  compile(straight);
  straight.fit(x, y, {.batch_size = 16, .epochs = 5, .verbose = 0, .validation_split = 0.2});

  Sequential first = small_model();
  compile(first);
  first.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0, .validation_split = 0.2});
  const auto bytes = capture_training_state(first, {2, 14, 42, 16}).serialize();

  Model resumed = small_model();  // fresh weights and an unbuilt optimizer
  compile(resumed);
  const TrainingProgress p = restore_training_state(Checkpoint::deserialize(bytes, "t"), resumed);
  EXPECT_EQ(p.epoch, 2);
  EXPECT_EQ(p.global_step, 14);
  EXPECT_EQ(resumed.optimizer().iterations(), first.optimizer().iterations());
  resumed.fit(x, y, {.batch_size = 16, .epochs = 5, .initial_epoch = p.epoch, .verbose = 0,
                     .validation_split = 0.2});
  const auto a = arena(straight), b = arena(resumed);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

// Functional models: a residual MLP (Add, BN, Dropout) and one with a layer called twice (its
// gradients add) and a Dropout between the calls. The Dropouts have fixed seeds, so a fresh model
// draws the straight run's masks only if the checkpoint restored their generators.
Model residual_dropout_model() {
  KerasTensor x = Input({6});
  KerasTensor h = Dense(16, {.activation = "relu"})(x);
  KerasTensor b = Dropout(0.3, {.seed = 7})(Dense(16, {.activation = "elu"})(h));
  b = BatchNormalization()(Dense(16)(b));
  return Model(x, Dense(3, {.activation = "softmax"})(Add()({h, b})));
}

Model shared_dropout_model() {
  KerasTensor x = Input({6});
  auto shared = keel::shared(Dense(6, {.activation = "tanh"}));
  KerasTensor a = (*shared)(x);
  KerasTensor b = (*shared)(Dropout(0.25, {.seed = 11})(a));
  return Model(x, Dense(3, {.activation = "softmax"})(Concatenate()({a, b})));
}

TEST(Checkpoint, FunctionalModelsResumeBitIdentically) {
  Tensor x, y;
  make_data(130, x, y);
  auto compile = [](Model& m) {
    m.compile({.optimizer = std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01}),
               .loss = "sparse_categorical_crossentropy"});
  };
  for (Model (*make)() : {residual_dropout_model, shared_dropout_model}) {
    Model straight = make();
    compile(straight);
    straight.fit(x, y, {.batch_size = 16, .epochs = 4, .verbose = 0});

    Model first = make();
    compile(first);
    first.fit(x, y, {.batch_size = 16, .epochs = 2, .verbose = 0});
    const Checkpoint ck = Checkpoint::deserialize(
        capture_training_state(first, {2, 18, 42, 16}).serialize(), "t");
    int generators = 0;
    for (const CheckpointEntry& e : ck.entries()) generators += e.name.starts_with("rng/");
    EXPECT_EQ(generators, 1);

    Model resumed = make();
    compile(resumed);
    const TrainingProgress p = restore_training_state(ck, resumed);
    resumed.fit(x, y, {.batch_size = 16, .epochs = 4, .initial_epoch = p.epoch, .verbose = 0});
    const auto a = arena(straight), b = arena(resumed);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << straight.name();
  }
}

TEST(Checkpoint, RestoreNamesTheLayerWhoseStateIsMissing) {
  Model plain = small_model();  // no Dropout: no layer state
  plain.build();
  const Checkpoint ck = capture_training_state(plain, {});
  Sequential with_dropout(Flatten({.input_shape = {6}}), Dense(16, {.activation = "relu"}),
                          BatchNormalization(), Dropout(0.5, {.name = "drop"}),
                          Dense(3, {.activation = "softmax"}));
  with_dropout.build();
  try {
    restore_training_state(ck, with_dropout);
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'rng' state for layer 'drop' (Dropout)"),
              std::string::npos) << e.what();
  }
}

TEST(Checkpoint, RestoreRejectsAnotherModel) {
  Model a = small_model();
  a.build();
  const Checkpoint ck = capture_training_state(a, {});
  Sequential b(Flatten({.input_shape = {6}}), Dense(3));
  b.build();
  EXPECT_THROW(restore_training_state(ck, b), Error);
}

}  // namespace
}  // namespace keel
