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
