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
//
// keel-specific, before the Keras rule: agc = lambda, adaptive gradient clipping (NFNets,
// DeepMind's SGD_AGC). Per output unit i: if ||G_i|| > lambda * max(||W_i||, 1e-3), G_i is scaled
// down to that norm (kernels/agc.h). It acts on the raw gradient, so any Keras rule set with it
// sees the AGC'd gradient. Variables flagged exclude_from_agc (the final classifier's kernel, as in
// the paper) skip AGC but not the Keras rule.
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
  // The variable's dims, Keras layout ((in, out), (kh, kw, cin, cout)). Only AGC reads them, to
  // find the output units (the last axis); empty is one unit, as a rank-1 tensor. Product == size.
  std::span<const int64_t> shape{};
  bool exclude_from_agc = false;  // the model sets it on the final classifier's kernel (NFNets)
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
  std::optional<double> agc{};  // keel-specific: adaptive gradient clipping's lambda (runs first)
  NonFinitePolicy on_nonfinite = NonFinitePolicy::kError;
};

struct ClipResult {
  double preclip_global_norm = 0.0;   // sqrt(sum of all squared raw gradient elements), before AGC
  double postclip_global_norm = 0.0;  // the same after AGC and clipping (== preclip when neither)
  bool clipped = false;               // some gradient element changed (AGC or the Keras rule)
  bool finite = true;                 // false when some gradient element is NaN or +-inf
  int64_t agc_clipped_units = 0;      // output units AGC scaled down this step
};

// Throws keel::Error when the options are invalid (values <= 0 or NaN, agc included; clipnorm
// together with global_clipnorm). `where` prefixes the message (e.g. the optimizer name).
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
  std::vector<double> sum_squares;        // per variable, Σ g² the Keras rule sees (after AGC)
  std::vector<GradTransform> transforms;  // per variable, what the update applies to g
  std::vector<float> agc_scale;           // per unit of the widest variable, AGC scratch
  // Re-splits only when the sizes change; otherwise just records this step's buffers.
  void prepare(std::span<const ParamRef> params);
};

// Decides the clip from the norms (one read pass over the gradients, in parallel):
// ws.transforms[v] is the transform the update must apply to every element of variable v's
// gradient, ws.sum_squares[v] the sum of squares the rule saw. Without agc no gradient is written.
// With agc the gradients are scaled in place by AGC after the non-finite check, and when AGC
// scaled any unit they are read once more for the rule. The non-finite policy is applied on the
// raw gradient: kError throws before anything is modified; kSkipStep returns finite == false and
// the caller must not update. The result is the same whatever the thread count.
ClipResult plan_clipping(std::span<const ParamRef> params, const ClipOptions& options,
                         ClipWorkspace& ws);

// Clips the gradients in place (plan_clipping, then the transforms written back). With
// on_nonfinite == kError a non-finite gradient throws before anything is modified; with kSkipStep
// the gradients are left unchanged and result.finite is false. `scratch`, when it has
// params.size() entries, receives each variable's sum of squares (after AGC, before the rule).
// Allocates; optimizers use plan_clipping and fuse the transform into their update instead.
ClipResult clip_gradients(std::span<const ParamRef> params, const ClipOptions& options,
                          std::span<double> scratch = {});

}  // namespace keel
