// Pascanu et al.'s synthetic sequence tasks (keel/io/sequence_tasks.h): the --data syntax and its
// errors, and every generated sample checked against the task's definition (markers and symbols
// in their ranges, the target computed from them), determinism from the seed, and the failure
// criterion (a NaN prediction fails).
#include <gtest/gtest.h>

#include <cmath>

#include "keel/core/error.h"
#include "keel/io/sequence_tasks.h"

namespace keel {
namespace {

TEST(SequenceTasks, ParsesTheDataArgument) {
  EXPECT_FALSE(parse_sequence_task("fashion-mnist"));
  EXPECT_FALSE(parse_sequence_task("/data/adding:50"));
  const auto adding = parse_sequence_task("adding:50");
  ASSERT_TRUE(adding);
  EXPECT_EQ(adding->task, SequenceTask::kAdding);
  EXPECT_EQ(adding->timesteps, 50);
  const auto order = parse_sequence_task("temporal-order:120");
  ASSERT_TRUE(order);
  EXPECT_EQ(order->task, SequenceTask::kTemporalOrder);
  EXPECT_EQ(order->timesteps, 120);
  for (const char* bad : {"adding:", "adding:x", "adding:5", "adding:50x", "adding:-50",
                          "temporal-order:1000001"}) {
    try {
      parse_sequence_task(bad);
      ADD_FAILURE() << bad << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(SequenceTasks, AddingSamplesFollowTheDefinition) {
  const int64_t T = 50;
  const auto d = make_sequence_task({SequenceTask::kAdding, T}, 300, 200, 7);
  ASSERT_EQ(d.features, 2);
  ASSERT_EQ(d.train_x.size(), size_t(300 * T * 2));
  ASSERT_EQ(d.test_y.size(), 200u);
  for (int64_t i = 0; i < d.train_count; ++i) {
    const float* x = d.train_x.data() + i * T * 2;
    std::vector<int64_t> marked;
    for (int64_t t = 0; t < T; ++t) {
      EXPECT_GE(x[t * 2], 0.0f);
      EXPECT_LT(x[t * 2], 1.0f);
      ASSERT_TRUE(x[t * 2 + 1] == 0.0f || x[t * 2 + 1] == 1.0f);
      if (x[t * 2 + 1] == 1.0f) marked.push_back(t);
    }
    ASSERT_EQ(marked.size(), 2u) << "sample " << i;
    EXPECT_LT(marked[0], T / 10);
    EXPECT_GE(marked[1], T / 10);
    EXPECT_LT(marked[1], T / 2);
    EXPECT_FLOAT_EQ(d.train_y[size_t(i)], 0.5f * (x[marked[0] * 2] + x[marked[1] * 2]));
  }
  const auto again = make_sequence_task({SequenceTask::kAdding, T}, 300, 200, 7);
  EXPECT_EQ(again.train_x, d.train_x);
  EXPECT_EQ(again.test_y, d.test_y);
  EXPECT_NE(make_sequence_task({SequenceTask::kAdding, T}, 300, 200, 8).train_x, d.train_x);
}

TEST(SequenceTasks, TemporalOrderSamplesFollowTheDefinition) {
  const int64_t T = 60;
  const auto d = make_sequence_task({SequenceTask::kTemporalOrder, T}, 400, 10, 3);
  ASSERT_EQ(d.features, 6);
  std::vector<int> classes(4, 0);
  for (int64_t i = 0; i < d.train_count; ++i) {
    const float* x = d.train_x.data() + i * T * 6;
    std::vector<std::pair<int64_t, int>> ab;  // (position, symbol) of A / B
    for (int64_t t = 0; t < T; ++t) {
      int ones = 0, symbol = -1;
      for (int s = 0; s < 6; ++s) {
        if (x[t * 6 + s] == 1.0f) ++ones, symbol = s;
        else ASSERT_EQ(x[t * 6 + s], 0.0f);
      }
      ASSERT_EQ(ones, 1) << "sample " << i << " step " << t << " is not one-hot";
      if (symbol < 2) ab.emplace_back(t, symbol);
    }
    ASSERT_EQ(ab.size(), 2u) << "sample " << i;
    EXPECT_GE(ab[0].first, T / 10);
    EXPECT_LT(ab[0].first, T / 5);
    EXPECT_GE(ab[1].first, T / 2);
    EXPECT_LT(ab[1].first, 3 * T / 5);
    const int label = 2 * ab[0].second + ab[1].second;
    EXPECT_EQ(d.train_y[size_t(i)], float(label));
    ++classes[size_t(label)];
  }
  for (int c : classes) EXPECT_GT(c, 60) << "classes are drawn evenly";
}

TEST(SequenceTasks, FailureCriterion) {
  auto d = make_sequence_task({SequenceTask::kAdding, 20}, 1, 4, 1);
  std::vector<float> p(d.test_y.begin(), d.test_y.end());
  EXPECT_EQ(sequence_task_error(d, p.data()), 0.0);
  p[0] += 0.19f;  // squared error 0.0361: still a success
  p[1] += 0.21f;  // 0.0441: a failure
  p[2] = NAN;
  EXPECT_DOUBLE_EQ(sequence_task_error(d, p.data()), 0.5);
  auto order = make_sequence_task({SequenceTask::kTemporalOrder, 20}, 1, 2, 1);
  std::vector<float> probs(8, 0.0f);
  probs[size_t(order.test_y[0])] = 1.0f;                       // right
  probs[4 + (size_t(order.test_y[1]) + 1) % 4] = 1.0f;         // wrong
  EXPECT_DOUBLE_EQ(sequence_task_error(order, probs.data()), 0.5);
}

}  // namespace
}  // namespace keel
