// Gradient clipping with tf.keras >= 2.11 semantics, done once per step, after the whole
// gradient is formed and before any optimizer update (docs/clipping.md has the formulas).
//
//  * Exactly one rule applies, priority clipnorm > global_clipnorm > clipvalue (Keras's
//    `_clip_gradients`); clipnorm together with global_clipnorm is an error, as in Keras.
//  * clipnorm is per variable: g * c / max(||g||, c), no epsilon.
//  * global_clipnorm: g * c * min(1/global_norm, 1/c) for every variable.
//  * clipvalue: clamp each element to [-v, v].
// Deliberate difference from Keras: a value <= 0 or NaN is rejected (Keras silently ignores <= 0,
// so a typo such as clipvalue=0 would train unclipped).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "keel/kernels/optimizer_kernels.h"

namespace keel {

// One trainable variable as the optimizer sees it (no layer types): value and gradient buffers of
// `size` contiguous floats.
struct ParamRef {
  std::string_view name{};  // e.g. "dense/kernel:0"; names slots and error messages
  float* value = nullptr;
  float* grad = nullptr;
  int64_t size = 0;
};

// What to do when the gradient holds NaN or +-inf.
enum class NonFinitePolicy {
  kError,     // default: throw keel::Error naming the first offending variable, index and value
  kSkipStep,  // leave weights, slots and iterations untouched; the optimizer counts the skip
  kIgnore,    // proceed as Keras does (NaN/inf propagate into the weights)
};

struct ClipOptions {
  std::optional<double> clipnorm{};
  std::optional<double> global_clipnorm{};
  std::optional<double> clipvalue{};
  NonFinitePolicy on_nonfinite = NonFinitePolicy::kError;
};

struct ClipResult {
  double preclip_global_norm = 0.0;   // sqrt(sum of all squared gradient elements)
  double postclip_global_norm = 0.0;  // the same after clipping (== preclip when not clipped)
  bool clipped = false;               // some gradient element changed
  bool finite = true;                 // false when some gradient element is NaN or +-inf
};

// Throws keel::Error when the options are invalid (values <= 0 or NaN, clipnorm together with
// global_clipnorm). `where` prefixes the message (e.g. the optimizer name).
void validate_clip_options(const ClipOptions& options, std::string_view where = "optimizer");

// Global L2 norm of all gradients. Sums of squares are accumulated in double: a float squared is at
// most 1.2e77, so no finite float gradient (1e20 included) can overflow and no rescaling is needed.
double global_gradient_norm(std::span<const ParamRef> params);

// Scratch for clipping one fixed variable list every step without allocating: the chunking of the
// variables (optimizer_kernels.h) and per-chunk / per-variable results.
struct ClipWorkspace {
  std::vector<int64_t> sizes;             // per variable, what the chunks were split from
  std::vector<ParamChunk> chunks;
  std::vector<ChunkSums> chunk_sums;      // per chunk
  std::vector<float*> grads;              // per variable, this step's gradient buffers
  std::vector<double> sum_squares;        // per variable, pre-clip Σ g²
  std::vector<GradTransform> transforms;  // per variable, what the update applies to g
  // Re-splits only when the sizes change; otherwise just records this step's buffers.
  void prepare(std::span<const ParamRef> params);
};

// Decides the clip from the norms (one read pass over the gradients, in parallel) without writing
// any gradient: ws.transforms[v] is the transform the update must apply to every element of
// variable v's gradient, ws.sum_squares[v] its pre-clip sum of squares. The non-finite policy is
// applied here: kError throws before anything is modified; kSkipStep returns finite == false and
// the caller must not update. The result is the same whatever the thread count.
ClipResult plan_clipping(std::span<const ParamRef> params, const ClipOptions& options,
                         ClipWorkspace& ws);

// Clips the gradients in place (plan_clipping, then the transforms written back). With
// on_nonfinite == kError a non-finite gradient throws before anything is modified; with kSkipStep
// the gradients are left unchanged and result.finite is false. `scratch`, when it has
// params.size() entries, receives each variable's sum of squares. Allocates; optimizers use
// plan_clipping and fuse the transform into their update instead.
ClipResult clip_gradients(std::span<const ParamRef> params, const ClipOptions& options,
                          std::span<double> scratch = {});

}  // namespace keel
