// Kernels of one optimizer step over all trainable variables: gradient sums of squares (the norms
// clipping needs) and the SGD update with the clip rule fused into it.
//
// Work is split into fixed chunks of at most kOptimizerChunk elements, each inside one variable
// (split_into_chunks). A chunk is handled by one thread (threads take equal shares of elements,
// the same chunks in every kernel); partial sums are combined per variable
// in chunk order by one thread, so every result has the same bits whatever the thread count.
// All variables go through one parallel region per kernel call (a region costs µs to start).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace keel {

constexpr int64_t kOptimizerChunk = 8192;

// Elements [begin, begin + size) of variable `var`; `offset` counts the elements of all chunks
// before this one (the threads split the work by it).
struct ParamChunk {
  int64_t var = 0;
  int64_t begin = 0;
  int64_t size = 0;
  int64_t offset = 0;
};

// sizes: (num_vars) element counts. Chunks in variable order, then element order; a variable of
// size 0 has no chunk. Allocates: call once when the variable list is fixed (optimizer build).
std::vector<ParamChunk> split_into_chunks(std::span<const int64_t> sizes);

// What clipping does to one variable's gradient, applied element by element by whoever reads it
// (TF's float32 expressions, in TF's operand order):
//   kNone: g;  kNorm: (g * a) / b  (clipnorm: a = c, b = the variable's norm);
//   kScale: g * a  (global_clipnorm);  kClamp: g < -a ? -a : (g > a ? a : g)  (clipvalue; NaN stays).
enum class ClipKind : int32_t { kNone, kNorm, kScale, kClamp };
struct GradTransform {
  ClipKind kind = ClipKind::kNone;
  float a = 0.0f;
  float b = 0.0f;
};

// Per chunk: Σ g² in double, and with a clamp value also Σ clamp(g)² and how many elements the
// clamp changes (NaN counts as changed: NaN != NaN, as the unfused clamp counted it).
struct ChunkSums {
  double sum_squares = 0.0;
  double clamped_sum_squares = 0.0;
  int64_t clamped = 0;
};

// grads: (num_vars) pointers, grads[v] has the size the chunks were split from
// chunks: (num_chunks) from split_into_chunks
// out: (num_chunks) written
// clamp > 0: also fill the clamped fields (clipvalue); otherwise they are 0.
// Chunk c: element j of the chunk goes to double lane j % 32, lanes combined in a fixed tree.
void gradient_chunk_sums(const float* const* grads, std::span<const ParamChunk> chunks, float clamp,
                         ChunkSums* out);
void gradient_chunk_sums_ref(const float* const* grads, std::span<const ParamChunk> chunks,
                             float clamp, ChunkSums* out);

namespace detail {
// One chunk (n <= kOptimizerChunk) by the portable vector code, whatever the CPU: the CPU picks
// the AVX-512 intrinsics path where available, so tests call this to cover both.
ChunkSums chunk_sums_portable(const float* g, int64_t n, float clamp);
}  // namespace detail

// Σ g² of one buffer, chunked as above (what gradient_chunk_sums gives, summed in chunk order).
// g: (n)
double sum_squares(const float* g, int64_t n);

// grads: (num_vars) pointers, transformed in place by transforms[v] (materialised clipping, for
// optimizers whose update loops do not apply the transform themselves).
// transforms: (num_vars)
void apply_grad_transforms(float* const* grads, const GradTransform* transforms,
                           std::span<const ParamChunk> chunks);
// g: (n) in place, the unfused loop of one variable.
void apply_grad_transform_ref(float* g, int64_t n, GradTransform t);

enum class SgdRule : int32_t { kPlain, kMomentum, kNesterov };

// One variable of an SGD step: w (size) in/out, g (size) read only, m (size) in/out velocity or
// nullptr for kPlain, clip the transform applied to every g element as it is read.
struct SgdVar {
  float* w = nullptr;
  const float* g = nullptr;
  float* m = nullptr;
  GradTransform clip{};
};

struct SgdStep {
  SgdRule rule = SgdRule::kPlain;
  float lr = 0.0f;
  float momentum = 0.0f;
  bool weight_decay = false;  // decoupled: w -= w * wd * lr before the update (Keras order)
  float wd = 0.0f;
};

// Keras SGD update_step with clipping fused: per element, g' = clip(g), then
//   kPlain:    w -= g' * lr
//   kMomentum: m = m * momentum - g' * lr; w += m
//   kNesterov: step = g' * lr; m = m * momentum - step; w += m * momentum - step
// One read of g and one read-write of w (and m): the gradient buffers are left untouched.
// vars: (num_vars); chunks: from split_into_chunks over the same variables.
void sgd_update(const SgdVar* vars, std::span<const ParamChunk> chunks, const SgdStep& step);
// The unfused reference: weight decay, then the update with g already clipped. w, g, m: (n).
void sgd_update_ref(float* w, const float* g, float* m, int64_t n, const SgdStep& step);

}  // namespace keel
