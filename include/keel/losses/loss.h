// Losses: value and gradient of the Keras losses, mean-over-batch reduction (SUM_OVER_BATCH_SIZE).
//
// A loss sees raw pointers and dims only (DESIGN.md: losses know no layers). compute() returns the
// SUM of the per-sample losses so the caller can weight partial batches itself; the gradient it
// writes is d(mean loss)/d(input), i.e. already divided by `batch`. No allocation in compute()
// (a softmax cross-entropy over more than 1,024 classes without a gradient buffer keeps a
// per-thread scratch row that grows once).
//
// Which input the gradient is taken w.r.t. follows Keras's `_get_logits` rule: crossentropy after
// a softmax (categorical / sparse) or after a sigmoid (binary) uses the pre-activation logits
// when the model provides them, without the 1e-7 clip; otherwise probabilities are clipped to
// [1e-7, 1 - 1e-7] (backend.epsilon) and the gradient is that of the clipped formula.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace keel {

// Which activation produced LossBatch::y_pred from LossBatch::logits.
enum class LogitsOf { kSoftmax, kSigmoid };

struct LossBatch {
  const float* y_pred = nullptr;  // (batch, width) model output
  // (batch, width) pre-activation of the output layer when that layer is a softmax/sigmoid (see
  // logits_of), else nullptr. Ignored by losses that have no logits path (mse, mae, huber).
  const float* logits = nullptr;
  LogitsOf logits_of = LogitsOf::kSoftmax;
  // (batch, true_width): class ids stored as floats for sparse CE (true_width 1), else the same
  // width as y_pred.
  const float* y_true = nullptr;
  int64_t batch = 0, width = 0, true_width = 0;
};

class Loss {
 public:
  virtual ~Loss() = default;
  // Keras function name as stored in a training config, e.g. "sparse_categorical_crossentropy".
  virtual std::string name() const = 0;
  bool from_logits() const { return from_logits_; }

  // Returns the sum over the batch of the per-sample losses. When grad != nullptr, writes
  // d(sum / batch)/d(input) into grad (batch, width), where input is LossBatch::logits if
  // *grad_wrt_logits is set to true, else y_pred. grad_wrt_logits may be nullptr only when
  // grad is nullptr. Throws keel::Error on inconsistent dims or, for sparse CE, labels outside
  // [0, width).
  virtual double compute(const LossBatch& batch, float* grad, bool* grad_wrt_logits) const = 0;

 protected:
  explicit Loss(bool from_logits) : from_logits_(from_logits) {}
  bool from_logits_;
};

// Keras names and aliases: "mean_squared_error"/"mse", "mean_absolute_error"/"mae", "huber"
// (delta 1.0), "binary_crossentropy", "categorical_crossentropy",
// "sparse_categorical_crossentropy" (class names such as "SparseCategoricalCrossentropy" are
// accepted too). `from_logits` is Keras's argument: y_pred itself holds logits. Unknown names
// throw keel::Error listing the known ones.
std::unique_ptr<Loss> make_loss(std::string_view keras_name_or_alias, bool from_logits = false);

}  // namespace keel
