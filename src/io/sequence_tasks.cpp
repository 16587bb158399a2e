#include "keel/io/sequence_tasks.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "keel/core/error.h"
#include "keel/core/rng.h"

namespace keel {

namespace {

constexpr int64_t kMinTimesteps = 10;      // p0/p1 ranges of 0.1·T need at least one position
constexpr int64_t kMaxTimesteps = 100000;

// An integer uniform in [lo, hi) (hi > lo), the ranges of the authors' code (numpy randint).
int64_t uniform_in(Rng& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng.uniform_int(static_cast<uint64_t>(hi - lo)));
}

void adding_sample(Rng& rng, int64_t T, float* x, float* y) {
  const int64_t p0 = uniform_in(rng, 0, std::max<int64_t>(1, T / 10));
  const int64_t p1 = uniform_in(rng, std::max<int64_t>(1, T / 10), T / 2);
  for (int64_t t = 0; t < T; ++t) {
    x[t * 2] = rng.uniform();
    x[t * 2 + 1] = (t == p0 || t == p1) ? 1.0f : 0.0f;
  }
  *y = 0.5f * (x[p0 * 2] + x[p1 * 2]);
}

void temporal_order_sample(Rng& rng, int64_t T, float* x, float* y) {
  std::fill_n(x, T * 6, 0.0f);
  for (int64_t t = 0; t < T; ++t) x[t * 6 + uniform_in(rng, 2, 6)] = 1.0f;
  const int64_t p0 = uniform_in(rng, T / 10, std::max(T / 10 + 1, T / 5));
  const int64_t p1 = uniform_in(rng, T / 2, std::max(T / 2 + 1, 3 * T / 5));
  const int64_t a = uniform_in(rng, 0, 2), b = uniform_in(rng, 0, 2);
  for (int64_t p : {p0, p1}) std::fill_n(x + p * 6, 6, 0.0f);
  x[p0 * 6 + a] = 1.0f;
  x[p1 * 6 + b] = 1.0f;
  *y = static_cast<float>(2 * a + b);
}

}  // namespace

std::string sequence_task_name(SequenceTask task) {
  return task == SequenceTask::kAdding ? "adding" : "temporal-order";
}

std::optional<SequenceTaskSpec> parse_sequence_task(std::string_view data) {
  SequenceTaskSpec spec;
  std::string_view rest;
  for (SequenceTask task : {SequenceTask::kAdding, SequenceTask::kTemporalOrder}) {
    const std::string prefix = sequence_task_name(task) + ":";
    if (data.starts_with(prefix)) {
      spec.task = task;
      rest = data.substr(prefix.size());
      int64_t t = 0;
      const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), t);
      KEEL_CHECK(ec == std::errc() && end == rest.data() + rest.size() && t >= kMinTimesteps &&
                     t <= kMaxTimesteps,
                 "--data '", data, "': the length after '", prefix, "' must be an integer in [",
                 kMinTimesteps, ", ", kMaxTimesteps, "], got '", rest, "'");
      spec.timesteps = t;
      return spec;
    }
  }
  return std::nullopt;
}

SequenceTaskData make_sequence_task(SequenceTaskSpec spec, int64_t train_count, int64_t test_count,
                                    uint64_t seed) {
  KEEL_CHECK(train_count >= 1 && test_count >= 1, "sequence task: train and test counts must be >= 1");
  SequenceTaskData d;
  d.spec = spec;
  d.features = spec.task == SequenceTask::kAdding ? 2 : 6;
  d.train_count = train_count;
  d.test_count = test_count;
  const int64_t T = spec.timesteps, width = T * d.features;
  Rng rng(seed, /*stream=*/0x5e9);
  auto fill = [&](int64_t count, std::vector<float>& x, std::vector<float>& y) {
    x.resize(static_cast<size_t>(count * width));
    y.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      if (spec.task == SequenceTask::kAdding) {
        adding_sample(rng, T, x.data() + i * width, y.data() + i);
      } else {
        temporal_order_sample(rng, T, x.data() + i * width, y.data() + i);
      }
    }
  };
  fill(train_count, d.train_x, d.train_y);
  fill(test_count, d.test_x, d.test_y);
  return d;
}

DataView sequence_task_view(const SequenceTaskData& data, bool train) {
  DataView view;
  view.size = train ? data.train_count : data.test_count;
  view.sample_dims = {data.spec.timesteps, data.features};
  view.x_float = (train ? data.train_x : data.test_x).data();
  view.y_float = (train ? data.train_y : data.test_y).data();
  view.y_width = 1;
  return view;
}

double sequence_task_error(const SequenceTaskData& data, const float* predictions) {
  int64_t failed = 0;
  for (int64_t i = 0; i < data.test_count; ++i) {
    const float target = data.test_y[static_cast<size_t>(i)];
    if (data.spec.task == SequenceTask::kAdding) {
      const double e = double(predictions[i]) - target;
      // A NaN prediction fails too (the comparison alone would call it a success).
      failed += !(e * e <= 0.04);
    } else {
      const float* p = predictions + i * 4;
      const int64_t arg = std::max_element(p, p + 4) - p;
      failed += arg != static_cast<int64_t>(target) || std::isnan(p[0]);
    }
  }
  return static_cast<double>(failed) / static_cast<double>(data.test_count);
}

}  // namespace keel
