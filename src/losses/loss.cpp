// Keras losses (tf.keras 2.x keras/losses.py + keras/backend.py), value and gradient.
//
// Per-sample losses are accumulated in double; gradients are written as float. Every per-row
// formula below is the exact Keras one, including the quirks that matter at the edges:
//  * categorical CE on probabilities first renormalises each row to sum 1, then clips;
//  * sparse CE on probabilities takes log(clip(p)) as logits of a softmax CE, so the loss is
//    log(sum_k clip(p_k)) - log(clip(p_y)) (equal to -log(clip(p_y)) only when the clipped row
//    still sums to 1);
//  * binary CE on probabilities clips and then still adds epsilon inside the logs.
// Clip gradients follow tf.clip_by_value: zero strictly outside [eps, 1 - eps], pass-through on it.
#include "keel/losses/loss.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "keel/core/error.h"
#include "keel/kernels/activations.h"

namespace keel {
namespace {

constexpr float kEpsilon = 1e-7f;  // keras.backend.epsilon()

// Same clip bounds TF uses on float32 tensors.
inline float clip_probability(float p) {
  return std::min(std::max(p, kEpsilon), 1.0f - kEpsilon);
}
inline bool inside_clip(float p) { return p >= kEpsilon && p <= 1.0f - kEpsilon; }

// Takes the loss itself, not its name: the name string is only built when a check fails, so a
// training step allocates nothing here.
void check_dims(const LossBatch& b, const Loss& loss_fn, int64_t expected_true_width) {
  KEEL_CHECK(b.batch >= 0 && b.width > 0, "loss '", loss_fn.name(), "': invalid batch ", b.batch,
             " / width ", b.width, "; expected batch >= 0 and width > 0");
  KEEL_CHECK(b.true_width == expected_true_width, "loss '", loss_fn.name(), "': y_true has width ",
             b.true_width, " but expected ", expected_true_width, " for y_pred of width ",
             b.width);
  KEEL_CHECK(b.batch == 0 || (b.y_pred != nullptr && b.y_true != nullptr), "loss '", loss_fn.name(),
             "': y_pred / y_true must not be null");
}

// ---- regression losses: per-sample mean over the last axis ------------------------------------

enum class Regression { kMse, kMae, kHuber };

class RegressionLoss final : public Loss {
 public:
  explicit RegressionLoss(Regression kind) : Loss(false), kind_(kind) {}
  std::string name() const override {
    switch (kind_) {
      case Regression::kMse: return "mean_squared_error";
      case Regression::kMae: return "mean_absolute_error";
      case Regression::kHuber: return "huber";
    }
    return {};
  }
  // y_true is (batch, width), or (batch, 1) broadcast over every output: Keras's fit expands
  // class ids (N,) to (N, 1) and the loss broadcasts them (the seed's loss="mse" on a softmax).
  double compute(const LossBatch& b, float* grad, bool* grad_wrt_logits) const override {
    check_dims(b, *this, b.true_width == 1 ? 1 : b.width);
    if (grad_wrt_logits) *grad_wrt_logits = false;
    const int64_t n = b.batch * b.width;
    // d(mean over batch of mean over width) / d y_pred = per-element derivative / (batch*width).
    const float inv_count = b.batch > 0 ? 1.0f / static_cast<float>(n) : 0.0f;
    const bool broadcast = b.true_width == 1 && b.width > 1;
    constexpr float delta = 1.0f;
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float e = b.y_pred[i] - b.y_true[broadcast ? i / b.width : i];
      const float a = std::fabs(e);
      float value = 0.0f, derivative = 0.0f;
      switch (kind_) {
        case Regression::kMse: value = e * e; derivative = 2.0f * e; break;
        case Regression::kMae: value = a; derivative = e > 0.0f ? 1.0f : (e < 0.0f ? -1.0f : 0.0f); break;
        case Regression::kHuber:
          if (a <= delta) {
            value = 0.5f * e * e;
            derivative = e;
          } else {
            value = delta * a - 0.5f * delta * delta;
            derivative = e > 0.0f ? delta : -delta;
          }
          break;
      }
      total += value;
      if (grad) grad[i] = derivative * inv_count;
    }
    return total / static_cast<double>(b.width);  // sum over samples of per-sample means
  }

 private:
  Regression kind_;
};

// ---- softmax crossentropy on logits (tf.nn.(sparse_)softmax_cross_entropy_with_logits) ---------

// z: (width) logits, e: (width) exp(z - max z) (softmax_exponentials), t: (width) targets or
// nullptr with label y. Writes (softmax(z)*sum(t) - t) * scale into g when g != nullptr (g may
// equal e); returns sum_k t_k * (logsumexp(z) - z_k). The exponentials are float, as in TF's
// kernel; their sum, the log and the loss are double.
double softmax_ce_row(const float* z, const float* e, const float* t, int64_t label,
                      int64_t width, float scale, float* g) {
  float zmax = z[0];
  for (int64_t k = 1; k < width; ++k) zmax = std::max(zmax, z[k]);
  double sum_exp = 0.0;
  for (int64_t k = 0; k < width; ++k) sum_exp += e[k];
  const double lse = static_cast<double>(zmax) + std::log(sum_exp);
  double loss = 0.0, t_sum = 1.0;
  if (t) {
    t_sum = 0.0;
    for (int64_t k = 0; k < width; ++k) {
      loss += static_cast<double>(t[k]) * (lse - z[k]);
      t_sum += t[k];
    }
  } else {
    loss = lse - z[label];
  }
  if (g) {
    const double inv_sum = 1.0 / sum_exp;
    for (int64_t k = 0; k < width; ++k) {
      const double p = e[k] * inv_sum;
      const double target = t ? t[k] : (k == label ? 1.0 : 0.0);
      g[k] = static_cast<float>((p * t_sum - target) * scale);
    }
  }
  return loss;
}

int64_t checked_label(float value, int64_t sample, int64_t width) {
  KEEL_CHECK(std::isfinite(value) && value >= 0.0f && value < static_cast<float>(width) &&
                 value == std::floor(value),
             "loss 'sparse_categorical_crossentropy': label of sample ", sample, " is ", value,
             "; expected an integer class id in [0, ", width, ")");
  return static_cast<int64_t>(value);
}

class CategoricalCrossentropy final : public Loss {
 public:
  CategoricalCrossentropy(bool sparse, bool from_logits) : Loss(from_logits), sparse_(sparse) {}
  std::string name() const override {
    return sparse_ ? "sparse_categorical_crossentropy" : "categorical_crossentropy";
  }
  double compute(const LossBatch& b, float* grad, bool* grad_wrt_logits) const override {
    check_dims(b, *this, sparse_ ? 1 : b.width);
    const bool use_model_logits =
        !from_logits_ && b.logits != nullptr && b.logits_of == LogitsOf::kSoftmax;
    if (grad_wrt_logits) *grad_wrt_logits = use_model_logits;
    const int64_t w = b.width;
    const float scale = b.batch > 0 ? 1.0f / static_cast<float>(b.batch) : 0.0f;
    double total = 0.0;
    if (from_logits_ || use_model_logits) {
      const float* logits = use_model_logits ? b.logits : b.y_pred;
      // The float exponentials of the logits go into grad's storage (fit), else into a stack
      // buffer a block of rows at a time (evaluate), so compute() allocates nothing; only rows
      // wider than the buffer (over 1,024 classes) use a per-thread scratch that grows once.
      constexpr int64_t kStackFloats = 1024;
      float stack[kStackFloats];
      float* scratch = stack;
      int64_t block = b.batch;
      if (grad == nullptr) {
        block = std::max<int64_t>(1, kStackFloats / w);
        if (w > kStackFloats) {
          thread_local std::vector<float> wide;
          if (wide.size() < static_cast<size_t>(w)) wide.resize(static_cast<size_t>(w));
          scratch = wide.data();
        }
      }
      for (int64_t s0 = 0; s0 < b.batch; s0 += block) {
        const int64_t rows = std::min(block, b.batch - s0);
        float* e = grad != nullptr ? grad + s0 * w : scratch;
        softmax_exponentials(logits + s0 * w, e, rows, w);
        for (int64_t s = s0; s < s0 + rows; ++s) {
          const float* t = sparse_ ? nullptr : b.y_true + s * w;
          const int64_t label = sparse_ ? checked_label(b.y_true[s], s, w) : -1;
          float* g = grad ? grad + s * w : nullptr;
          total += softmax_ce_row(logits + s * w, e + (s - s0) * w, t, label, w, scale, g);
        }
      }
      return total;
    }
    for (int64_t s = 0; s < b.batch; ++s) {
      const float* t = sparse_ ? nullptr : b.y_true + s * w;
      const int64_t label = sparse_ ? checked_label(b.y_true[s], s, w) : -1;
      float* g = grad ? grad + s * w : nullptr;
      total += sparse_ ? clipped_sparse_row(b.y_pred + s * w, label, w, scale, g)
                       : clipped_dense_row(b.y_pred + s * w, t, w, scale, g);
    }
    return total;
  }

 private:
  // Keras: log-probs log(clip(p)) fed to sparse softmax CE. c = clip(p), S = sum c:
  // loss = log S - log c_y, dloss/dp_k = [p_k inside clip] * (1/S - [k == y]/c_k).
  static double clipped_sparse_row(const float* p, int64_t y, int64_t w, float scale, float* g) {
    double sum = 0.0;
    for (int64_t k = 0; k < w; ++k) sum += clip_probability(p[k]);
    const double cy = clip_probability(p[y]);
    if (g) {
      for (int64_t k = 0; k < w; ++k) {
        const double d = 1.0 / sum - (k == y ? 1.0 / cy : 0.0);
        g[k] = inside_clip(p[k]) ? static_cast<float>(d * scale) : 0.0f;
      }
    }
    return std::log(sum) - std::log(cy);
  }

  // Keras: q = p / sum(p), c = clip(q), loss = -sum t_k log c_k. With a_k = -t_k/c_k [q_k inside
  // clip], dloss/dp_j = (a_j - sum_k a_k q_k) / sum(p).
  static double clipped_dense_row(const float* p, const float* t, int64_t w, float scale,
                                  float* g) {
    float row_sum = 0.0f;
    for (int64_t k = 0; k < w; ++k) row_sum += p[k];
    double loss = 0.0, a_dot_q = 0.0;
    for (int64_t k = 0; k < w; ++k) {
      const float q = p[k] / row_sum;
      const float c = clip_probability(q);
      loss -= static_cast<double>(t[k]) * std::log(static_cast<double>(c));
      if (inside_clip(q)) a_dot_q += -static_cast<double>(t[k]) / c * q;
    }
    if (g) {
      for (int64_t k = 0; k < w; ++k) {
        const float q = p[k] / row_sum;
        const double a = inside_clip(q) ? -static_cast<double>(t[k]) / clip_probability(q) : 0.0;
        g[k] = static_cast<float>((a - a_dot_q) / row_sum * scale);
      }
    }
    return loss;
  }

  bool sparse_;
};

// ---- binary crossentropy: per-sample mean over the last axis -----------------------------------

class BinaryCrossentropy final : public Loss {
 public:
  explicit BinaryCrossentropy(bool from_logits) : Loss(from_logits) {}
  std::string name() const override { return "binary_crossentropy"; }
  double compute(const LossBatch& b, float* grad, bool* grad_wrt_logits) const override {
    check_dims(b, *this, b.width);
    const bool use_model_logits =
        !from_logits_ && b.logits != nullptr && b.logits_of == LogitsOf::kSigmoid;
    if (grad_wrt_logits) *grad_wrt_logits = use_model_logits;
    const int64_t n = b.batch * b.width;
    const double scale = b.batch > 0 ? 1.0 / static_cast<double>(n) : 0.0;
    const float* x = use_model_logits ? b.logits : b.y_pred;
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double t = b.y_true[i];
      if (from_logits_ || use_model_logits) {
        // tf.nn.sigmoid_cross_entropy_with_logits: max(z,0) - z*t + log1p(exp(-|z|)).
        const double z = x[i];
        total += std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::fabs(z)));
        if (grad) grad[i] = static_cast<float>((1.0 / (1.0 + std::exp(-z)) - t) * scale);
      } else {
        const float c = clip_probability(x[i]);
        const double up = static_cast<double>(c + kEpsilon);
        const double down = static_cast<double>(1.0f - c + kEpsilon);
        total += -(t * std::log(up) + (1.0 - t) * std::log(down));
        if (grad) {
          grad[i] = inside_clip(x[i]) ? static_cast<float>((-t / up + (1.0 - t) / down) * scale)
                                      : 0.0f;
        }
      }
    }
    return total / static_cast<double>(b.width);
  }
};

std::string normalise(std::string_view name) {
  std::string out;
  for (char c : name) {
    // "SparseCategoricalCrossentropy" -> "sparsecategoricalcrossentropy"; "huber_loss" -> "huberloss"
    if (c == '_') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace

std::unique_ptr<Loss> make_loss(std::string_view name, bool from_logits) {
  const std::string key = normalise(name);
  auto regression = [&](Regression kind) -> std::unique_ptr<Loss> {
    KEEL_CHECK(!from_logits, "loss '", name, "' has no from_logits option; expected from_logits=false");
    return std::make_unique<RegressionLoss>(kind);
  };
  if (key == "mse" || key == "meansquarederror") return regression(Regression::kMse);
  if (key == "mae" || key == "meanabsoluteerror") return regression(Regression::kMae);
  if (key == "huber" || key == "huberloss") return regression(Regression::kHuber);
  if (key == "binarycrossentropy") return std::make_unique<BinaryCrossentropy>(from_logits);
  if (key == "categoricalcrossentropy")
    return std::make_unique<CategoricalCrossentropy>(false, from_logits);
  if (key == "sparsecategoricalcrossentropy")
    return std::make_unique<CategoricalCrossentropy>(true, from_logits);
  KEEL_FAIL("unknown loss '", name,
            "'; expected one of mean_squared_error (mse), mean_absolute_error (mae), huber, "
            "binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy");
}

}  // namespace keel
