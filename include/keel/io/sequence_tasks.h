// The synthetic sequence problems of Pascanu, Mikolov & Bengio 2013 ("On the difficulty of
// training recurrent neural networks"; from Hochreiter & Schmidhuber 1997), generated from a seed
// as the authors' code generates them (../shared/reference/keras-semantics-r2.md §6.4), at a fixed
// length T (their code varies the length per minibatch; keel's models have a fixed input shape):
//
//   adding:T          (T, 2): channel 0 uniform [0, 1) values, channel 1 a marker that is 1 at two
//                     positions p0 in [0, 0.1·T) and p1 in [0.1·T, 0.5·T); target (v_p0 + v_p1)/2,
//                     a regression (mse). A sample fails when its squared error exceeds 0.04.
//   temporal-order:T  (T, 6): one-hot symbols; A or B (symbols 0, 1) at p0 in [0.1·T, 0.2·T) and
//                     p1 in [0.5·T, 0.6·T), random distractors c..f (2..5) elsewhere; target the
//                     class of the pair (AA 0, AB 1, BA 2, BB 3). A sample fails when the argmax is
//                     wrong.
//
// The paper calls a run solved when none of 10,000 fresh test sequences fails.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keel/model/data_view.h"

namespace keel {

enum class SequenceTask { kAdding, kTemporalOrder };

struct SequenceTaskSpec {
  SequenceTask task = SequenceTask::kAdding;
  int64_t timesteps = 0;
};

// "adding:100" or "temporal-order:50"; std::nullopt for anything without such a prefix (a path);
// a known prefix with a bad length throws keel::Error naming the value.
std::optional<SequenceTaskSpec> parse_sequence_task(std::string_view data);

struct SequenceTaskData {
  SequenceTaskSpec spec;
  int64_t features = 0;      // 2 (adding) or 6 (temporal order)
  int64_t train_count = 0, test_count = 0;
  std::vector<float> train_x, test_x;  // (count, T, features)
  std::vector<float> train_y, test_y;  // (count, 1): the target, or the class id
};

// Train and test sets drawn from one generator seeded with `seed` (the test set after the train
// set, so changing train_count changes the test set too; both are fixed by the arguments).
SequenceTaskData make_sequence_task(SequenceTaskSpec spec, int64_t train_count, int64_t test_count,
                                    uint64_t seed);

DataView sequence_task_view(const SequenceTaskData& data, bool train);

// Pascanu et al.'s error on the test set: the fraction of samples that fail (see above), given the
// model's predictions for test_x in order ((test_count, 1) for adding, (test_count, 4) otherwise).
double sequence_task_error(const SequenceTaskData& data, const float* predictions);

// "adding" / "temporal-order".
std::string sequence_task_name(SequenceTask task);

}  // namespace keel
