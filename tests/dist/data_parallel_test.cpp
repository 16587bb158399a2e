// Data-parallel fit / evaluate against one process. This binary runs as one process and under
// `mpirun -np 2` and `-np 3` (CMakeLists.txt): every rank runs every test, so a test must make
// the same collective calls on every rank (no ASSERT that returns early before a collective).
// The reference is the same model trained by this process alone (a LocalCommunicator) on the
// whole global batch; with one rank both sides are the same computation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/core/rng.h"
#include "keel/dist/communicator.h"
#include "keel/layers/layers.h"
#include "keel/model/builtin_models.h"
#include "keel/model/model.h"
#include "keel/optimizers/adam.h"
#include "keel/optimizers/sgd.h"

namespace keel {
namespace {

const LocalCommunicator kOneProcess;

Tensor random_tensor(std::vector<int64_t> dims, uint64_t seed, float shift = 0.0f) {
  Tensor t(std::move(dims));
  Rng rng(seed, 7);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = shift + static_cast<float>(rng.normal());
  return t;
}

Tensor class_labels(int64_t n, int64_t classes, uint64_t seed) {
  Tensor y({n, 1});
  Rng rng(seed, 8);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(rng.uniform_int(uint64_t(classes)));
  return y;
}

Model small_mlp(bool with_bn) {
  KerasTensor x = Input({8});
  KerasTensor h = x;
  if (with_bn) h = BatchNormalization({.momentum = 0.9})(h);
  h = Dense(16, {.activation = "relu"})(h);
  return Model(x, Dense(4, {.activation = "softmax"})(h), "mlp");
}

std::vector<float> weights_of(const Model& m) {
  const auto arena = m.parameter_arena();
  return {arena.begin(), arena.end()};
}

// max |a - b| / max(1, |b|) over the arena.
double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]) / std::max(1.0, std::fabs(double(b[i]))));
  return worst;
}

struct Trained {
  std::vector<float> weights;
  History history;
  Logs evaluation;
};

// 20 steps of batch 64 (the last one partial: 20 rows, split unevenly over 3 ranks), shuffled.
Trained train(std::shared_ptr<Optimizer> optimizer, const Communicator& comm, bool with_bn = false) {
  const Tensor x = random_tensor({19 * 64 + 20, 8}, 1), y = class_labels(19 * 64 + 20, 4, 2);
  Model m = small_mlp(with_bn);
  m.build(std::nullopt, 5);
  m.set_communicator(comm);
  m.compile({.optimizer = std::move(optimizer), .loss = "sparse_categorical_crossentropy",
             .metrics = {"accuracy"}});
  Trained t;
  t.history = m.fit(x, y, {.batch_size = 64, .epochs = 1, .verbose = 0, .seed = 11});
  t.weights = weights_of(m);
  t.evaluation = m.evaluate(x, y, {.batch_size = 50, .verbose = 0});
  return t;
}

using OptimizerFactory = std::shared_ptr<Optimizer> (*)();
const std::pair<const char*, OptimizerFactory> kOptimizers[] = {
    {"SGD momentum 0.9, clipnorm 0.05",
     [] { return std::shared_ptr<Optimizer>(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .momentum = 0.9, .clipnorm = 0.05})); }},
    {"SGD, global_clipnorm 0.1",
     [] { return std::shared_ptr<Optimizer>(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .global_clipnorm = 0.1})); }},
    {"Adam",
     [] { return std::shared_ptr<Optimizer>(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01})); }},
};

TEST(DataParallel, SameWeightsLossAndMetricsAsOneProcess) {
  const Communicator& comm = world();
  for (const auto& [what, make] : kOptimizers) {
    const Trained ranks = train(make(), comm), alone = train(make(), kOneProcess);
    // Gradients are summed in another order (per rank, then over the ranks): float rounding only.
    EXPECT_LE(max_rel_diff(ranks.weights, alone.weights), 2e-6) << what << ", " << comm.size() << " ranks";
    for (const char* key : {"loss", "accuracy"}) {
      EXPECT_NEAR(ranks.history[key].at(0), alone.history[key].at(0), 1e-6) << what << " " << key;
      EXPECT_NEAR(*ranks.evaluation.get(key), *alone.evaluation.get(key), 1e-6) << what << " " << key;
    }
  }
}

TEST(DataParallel, ClippingSeesTheGlobalGradient) {
  // With a clip far below the gradient norm every step is clipped: were the ranks to clip their
  // own gradients before summing, the update would be up to size() times larger.
  const Communicator& comm = world();
  auto make = [] { return std::make_shared<SGD>(SGDOptions{.learning_rate = 0.5, .global_clipnorm = 1e-3}); };
  const Trained ranks = train(make(), comm), alone = train(make(), kOneProcess);
  EXPECT_LE(max_rel_diff(ranks.weights, alone.weights), 1e-6);
}

TEST(DataParallel, EveryRankHoldsTheSameWeightsAndRerunsAreBitIdentical) {
  const Communicator& comm = world();
  auto make = [] { return std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1, .momentum = 0.9}); };
  const Trained first = train(make(), comm, true), second = train(make(), comm, true);
  EXPECT_EQ(std::memcmp(first.weights.data(), second.weights.data(), first.weights.size() * 4), 0);
  // Sum in double over the ranks: equals size() x this rank's value iff every rank agrees.
  std::vector<double> sum(first.weights.begin(), first.weights.end());
  comm.all_reduce_sum(sum);
  int64_t differing = 0;
  for (size_t i = 0; i < sum.size(); ++i)
    differing += sum[i] != double(comm.size()) * first.weights[i] ? 1 : 0;
  EXPECT_EQ(differing, 0) << "rank " << comm.rank();
}

// Every BatchNormalization of `model` synchronized; every Dropout seeded alike (a default Dropout
// seed follows the construction order in the process, and each side builds its own model).
Model synchronized(Model model) {
  int64_t found = 0;
  for (const auto& layer : model.layers()) {
    if (auto* bn = dynamic_cast<BatchNormalization*>(layer.get())) {
      bn->set_synchronized(true);
      ++found;
    }
    if (auto* dropout = dynamic_cast<Dropout*>(layer.get())) dropout->set_seed(17);
  }
  EXPECT_GT(found, 0) << model.name();
  return model;
}

// One step of global batch 64 (not shuffled) through BatchNormalization(momentum=0.9): the moving
// statistics against NumPy's (tools/golden/per_replica_bn.py, tests/data/dist/bn_statistics.json).
// Without synchronization each rank normalises with its own rows' statistics (Keras's default
// per-replica BN) and the moving statistics read afterwards are the mean over the ranks of each
// rank's moving average; with synchronization they follow the global batch whatever the ranks.
void check_bn_statistics(bool sync) {
  const Communicator& comm = world();
  std::ifstream file(std::string(KEEL_SOURCE_DIR) + "/tests/data/dist/bn_statistics.json");
  ASSERT_TRUE(file) << "tests/data/dist/bn_statistics.json";
  const nlohmann::json doc = nlohmann::json::parse(file);
  const int64_t n = int64_t(doc["x"].size()), features = int64_t(doc["x"][0].size());
  Tensor x({n, features}), y({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t f = 0; f < features; ++f) x[i * features + f] = doc["x"][size_t(i)][size_t(f)].get<float>();
    y[i] = doc["labels"][size_t(i)].get<float>();
  }
  Model m = small_mlp(true);
  if (sync) m = synchronized(std::move(m));
  m.build(std::nullopt, 5);
  m.set_communicator(comm);
  m.compile({.optimizer = std::make_shared<SGD>(), .loss = "sparse_categorical_crossentropy"});
  m.fit(x, y, {.batch_size = n, .epochs = 1, .verbose = 0, .shuffle = false});

  const auto& expected = doc["ranks"][std::to_string(comm.size())][sync ? "synchronized" : "per_replica"];
  ASSERT_FALSE(expected.is_null()) << comm.size() << " ranks: not in the fixture";
  const Layer& bn = m.layer(1);
  ASSERT_EQ(bn.class_name(), "BatchNormalization");
  for (const char* name : {"moving_mean", "moving_variance"}) {
    const Variable* v = bn.find_variable(name);
    ASSERT_NE(v, nullptr) << name;
    for (int64_t f = 0; f < features; ++f) {
      const double want = expected[name][size_t(f)].get<double>();
      EXPECT_NEAR(v->value[f], want, 1e-6 * std::max(1.0, std::fabs(want))) << name << " " << f;
    }
  }
}

TEST(DataParallel, PerReplicaBatchNormStatistics) { check_bn_statistics(false); }

TEST(DataParallel, SynchronizedBatchNormUsesGlobalStatistics) { check_bn_statistics(true); }

// `model` trained for 20 steps of global batch 64 (the last one 20 rows) on 28x28 inputs.
std::vector<float> train_builtin(Model model, std::shared_ptr<Optimizer> optimizer,
                                 const Communicator& comm) {
  const int64_t n = 19 * 64 + 20;
  const Tensor x = random_tensor({n, 28, 28}, 21, 0.5f), y = class_labels(n, 10, 22);
  model.set_communicator(comm);
  model.compile({.optimizer = std::move(optimizer), .loss = "sparse_categorical_crossentropy"});
  model.fit(x, y, {.batch_size = 64, .epochs = 1, .verbose = 0, .seed = 13});
  return weights_of(model);
}

// Issue 15's acceptance: with synchronized BN, N ranks x global batch 64 give the weights and the
// moving statistics (both in the parameter arena) of one process with batch 64, after 20 steps
// with clipnorm and with global_clipnorm. seed-cnn also has Dropout, whose masks follow the
// global rows (DropoutMasksFollowTheGlobalRows).
// The two sides differ only in float rounding (a rank sums its rows' gradients, then the ranks
// sum). On seed-cnn that stays below 1e-6 only while the steps are gentle: measured on 2 ranks
// after 20 steps, lr 0.001 gives 1.2e-7, but lr 0.01 with momentum 0.9 and clipnorm 0.1 gives
// 1.5e-4 (after 1 step 6e-8, after 5 steps 1e-3 at lr 0.05): a rounding-level change flips a
// max-pool argmax or a ReLU near 0 and training amplifies it, as it would any change of summation
// order. So seed-cnn runs at lr 0.001 and seed-mlp (no pooling) at lr 0.05 with momentum.
// The one-process reference runs on rank 0 only (the other ranks hold the same weights:
// EveryRankHoldsTheSameWeightsAndRerunsAreBitIdentical).
TEST(DataParallel, SynchronizedBatchNormMatchesOneProcess) {
  const Communicator& comm = world();
  struct Case {
    const char* model;
    const char* what;
    SGDOptions options;
  };
  const Case cases[] = {
      {"seed-mlp", "clipnorm", {.learning_rate = 0.05, .momentum = 0.9, .clipnorm = 1.0}},
      {"seed-mlp", "global_clipnorm", {.learning_rate = 0.05, .global_clipnorm = 1.0}},
      {"seed-cnn", "clipnorm", {.learning_rate = 0.001, .clipnorm = 0.1}},
      {"seed-cnn", "global_clipnorm", {.learning_rate = 0.001, .global_clipnorm = 0.1}},
  };
  for (const Case& c : cases) {
    const std::vector<float> ranks =
        train_builtin(synchronized(builtin_model(c.model)), std::make_shared<SGD>(c.options), comm);
    if (comm.rank() != 0) continue;
    const std::vector<float> alone = train_builtin(synchronized(builtin_model(c.model)),
                                                   std::make_shared<SGD>(c.options), kOneProcess);
    EXPECT_LE(max_rel_diff(ranks, alone), 1e-6) << c.model << ", " << c.what << ", " << comm.size() << " ranks";
  }
}

// Each rank draws the masks of its own rows from the global batch's stream: training with dropout
// on N ranks gives one process's weights.
TEST(DataParallel, DropoutMasksFollowTheGlobalRows) {
  const Communicator& comm = world();
  auto run = [](const Communicator& c) {
    const Tensor x = random_tensor({200, 8}, 5), y = class_labels(200, 4, 6);
    KerasTensor in = Input({8});
    KerasTensor h = Dense(32, {.activation = "relu"})(in);
    h = Dropout(0.5, {.seed = 3})(h);
    Model m(in, Dense(4, {.activation = "softmax"})(h), "dropout_mlp");
    m.build(std::nullopt, 5);
    m.set_communicator(c);
    m.compile({.optimizer = std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}),
               .loss = "sparse_categorical_crossentropy"});
    m.fit(x, y, {.batch_size = 50, .epochs = 2, .verbose = 0, .seed = 4});
    return weights_of(m);
  };
  EXPECT_LE(max_rel_diff(run(comm), run(kOneProcess)), 2e-6) << comm.size() << " ranks";
}

TEST(DataParallel, SynchronizedBatchNormNeedsRowsOnEveryRank) {
  const Communicator& comm = world();
  // 66 samples in batches of 64: the last batch has 2 rows, fewer than 3 ranks.
  const Tensor x = random_tensor({66, 8}, 1), y = class_labels(66, 4, 2);
  Model m = synchronized(small_mlp(true));
  m.set_communicator(comm);
  m.compile({.loss = "sparse_categorical_crossentropy"});
  if (comm.size() <= 2) {
    EXPECT_NO_THROW(m.fit(x, y, {.batch_size = 64, .verbose = 0}));
    return;
  }
  try {
    m.fit(x, y, {.batch_size = 64, .verbose = 0});
    ADD_FAILURE() << "rank " << comm.rank() << ": fit ran with a batch smaller than the ranks";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has a batch of 2 samples for 3 ranks"), std::string::npos) << e.what();
  }
}

TEST(DataParallel, RanksWithDifferentDataFailTogether) {
  const Communicator& comm = world();
  // Rank 1 holds one sample fewer: with one process nothing differs and fit runs.
  const int64_t n = comm.rank() == 1 ? 99 : 100;
  const Tensor x = random_tensor({n, 8}, 1), y = class_labels(n, 4, 2);
  Model m = small_mlp(false);
  m.set_communicator(comm);
  m.compile({.loss = "sparse_categorical_crossentropy"});
  if (comm.size() == 1) {
    EXPECT_NO_THROW(m.fit(x, y, {.batch_size = 32, .verbose = 0}));
    return;
  }
  try {
    m.fit(x, y, {.batch_size = 32, .verbose = 0});
    ADD_FAILURE() << "rank " << comm.rank() << ": fit ran with different data on the ranks";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the number of training samples differs between the"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace keel
