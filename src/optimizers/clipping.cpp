// Gradient clipping (tf.keras >= 2.11 Optimizer._clip_gradients; TF clip_ops formulas).
//
// One read pass over the gradients (optimizer_kernels.h, parallel over fixed chunks): the
// pre-clip norms (always: the pre-clip norm is reported and is how non-finite gradients are
// detected before anything changes) and, for clipvalue, the post-clamp sums. The rule then
// becomes one GradTransform per variable, which the optimizer applies as it reads each gradient
// element, so the clipped gradient is never written. Norms are accumulated in double; the element
// updates use TF's float32 expressions: clipnorm (g*c)/norm (a vectorisable divide, so the seed's
// [0.9, 100] gives 0.008999635 exactly as TF prints it), global_clipnorm g * (c * min(1/gn, 1/c)).
#include "keel/optimizers/clipping.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "keel/core/error.h"

namespace keel {
namespace {

[[noreturn]] void throw_nonfinite(std::span<const ParamRef> params) {
  for (const ParamRef& p : params) {
    for (int64_t i = 0; i < p.size; ++i) {
      if (!std::isfinite(p.grad[i])) {
        KEEL_FAIL("gradient of variable '", p.name, "' has non-finite value ", p.grad[i],
                  " at element ", i,
                  "; expected finite gradients (lower the learning rate, clip, or set "
                  "on_nonfinite to skip_step / ignore)");
      }
    }
  }
  KEEL_FAIL("gradient norm is not finite");  // unreachable for float inputs
}

void check_positive(const std::optional<double>& value, const char* field, std::string_view where) {
  if (!value) return;
  KEEL_CHECK(*value > 0.0 && std::isfinite(*value), where, ": ", field, " is ", *value,
             "; expected a finite value > 0 (unset it to disable clipping)");
}

}  // namespace

void validate_clip_options(const ClipOptions& o, std::string_view where) {
  check_positive(o.clipnorm, "clipnorm", where);
  check_positive(o.global_clipnorm, "global_clipnorm", where);
  check_positive(o.clipvalue, "clipvalue", where);
  KEEL_CHECK(!(o.clipnorm && o.global_clipnorm), where, ": clipnorm (", *o.clipnorm,
             ") and global_clipnorm (", o.global_clipnorm.value_or(0.0),
             ") are both set; expected at most one of them (as in Keras)");
}

double global_gradient_norm(std::span<const ParamRef> params) {
  double total = 0.0;
  for (const ParamRef& p : params) total += sum_squares(p.grad, p.size);
  return std::sqrt(total);
}

void ClipWorkspace::prepare(std::span<const ParamRef> params) {
  bool same = params.size() == sizes.size();
  for (size_t v = 0; same && v < params.size(); ++v) same = params[v].size == sizes[v];
  if (!same) {
    sizes.resize(params.size());
    for (size_t v = 0; v < params.size(); ++v) sizes[v] = params[v].size;
    chunks = split_into_chunks(sizes);
    chunk_sums.assign(chunks.size(), ChunkSums{});
    grads.assign(params.size(), nullptr);
    sum_squares.assign(params.size(), 0.0);
    transforms.assign(params.size(), GradTransform{});
  }
  for (size_t v = 0; v < params.size(); ++v) grads[v] = params[v].grad;
}

ClipResult plan_clipping(std::span<const ParamRef> params, const ClipOptions& o,
                         ClipWorkspace& ws) {
  validate_clip_options(o);
  ws.prepare(params);
  const bool by_value = o.clipvalue && !o.clipnorm && !o.global_clipnorm;
  const float v = by_value ? static_cast<float>(*o.clipvalue) : 0.0f;
  gradient_chunk_sums(ws.grads.data(), ws.chunks, v, ws.chunk_sums.data());
  // Per variable in chunk order, then over variables in order: a fixed order, one thread.
  std::fill(ws.sum_squares.begin(), ws.sum_squares.end(), 0.0);
  for (size_t c = 0; c < ws.chunks.size(); ++c)
    ws.sum_squares[ws.chunks[c].var] += ws.chunk_sums[c].sum_squares;
  double total = 0.0;
  for (double s : ws.sum_squares) total += s;
  std::fill(ws.transforms.begin(), ws.transforms.end(), GradTransform{});

  ClipResult r;
  r.preclip_global_norm = r.postclip_global_norm = std::sqrt(total);
  r.finite = std::isfinite(total);
  if (!r.finite) {
    if (o.on_nonfinite == NonFinitePolicy::kError) throw_nonfinite(params);
    if (o.on_nonfinite == NonFinitePolicy::kSkipStep) return r;
  }

  if (o.clipnorm) {
    const double c = *o.clipnorm;
    double post = 0.0;
    for (size_t k = 0; k < params.size(); ++k) {
      const double s = ws.sum_squares[k];
      const double norm = std::sqrt(s);
      if (norm > c) {  // also true for +inf: finite elements become 0, inf ones NaN, as in TF
        ws.transforms[k] = {ClipKind::kNorm, static_cast<float>(c), static_cast<float>(norm)};
        r.clipped = true;
        post += c * c;
      } else {
        post += s;
      }
    }
    r.postclip_global_norm = std::sqrt(post);
  } else if (o.global_clipnorm) {
    const double c = *o.global_clipnorm;
    const double norm = r.preclip_global_norm;
    if (!(norm <= c)) {
      // Keras: scale = c * min(1/norm, 1/c) + (norm - norm), i.e. NaN for a non-finite norm.
      const float cf = static_cast<float>(c), nf = static_cast<float>(norm);
      const float scale =
          r.finite ? cf * std::min(1.0f / nf, 1.0f / cf) : std::numeric_limits<float>::quiet_NaN();
      std::fill(ws.transforms.begin(), ws.transforms.end(), GradTransform{ClipKind::kScale, scale});
      r.clipped = true;
      r.postclip_global_norm = norm * static_cast<double>(scale);
    }
  } else if (by_value) {
    double post = 0.0;
    for (size_t c = 0; c < ws.chunks.size(); ++c) {
      post += ws.chunk_sums[c].clamped_sum_squares;
      // A variable the clamp does not change needs no transform (NaN counts as changed).
      if (ws.chunk_sums[c].clamped > 0) {
        ws.transforms[ws.chunks[c].var] = {ClipKind::kClamp, v};
        r.clipped = true;
      }
    }
    r.postclip_global_norm = std::sqrt(post);
  }
  return r;
}

ClipResult clip_gradients(std::span<const ParamRef> params, const ClipOptions& o,
                          std::span<double> scratch) {
  ClipWorkspace ws;
  const ClipResult r = plan_clipping(params, o, ws);
  if (scratch.size() == params.size()) std::copy(ws.sum_squares.begin(), ws.sum_squares.end(), scratch.begin());
  if (r.finite || o.on_nonfinite != NonFinitePolicy::kSkipStep)
    apply_grad_transforms(ws.grads.data(), ws.transforms.data(), ws.chunks);
  return r;
}

}  // namespace keel
