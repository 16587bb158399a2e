// Gradient clipping (tf.keras >= 2.11 Optimizer._clip_gradients; TF clip_ops formulas).
//
// Passes over the gradients: one read pass for the norms (always: the pre-clip norm is reported
// and is how non-finite gradients are detected before anything changes), then at most one
// read-write pass for the rule that applies. Norms are accumulated in double; the element
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

// g: (n). Eight independent double accumulators so the compiler can vectorise the reduction
// without -ffast-math; the fixed order keeps the result deterministic.
double sum_squares(const float* g, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      const double x = g[i + j];
      acc[j] += x * x;
    }
  }
  for (; i < n; ++i) acc[i & 7] += static_cast<double>(g[i]) * g[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// g: (n), scaled in place.
void scale_in_place(float* g, int64_t n, float scale) {
  for (int64_t i = 0; i < n; ++i) g[i] *= scale;
}

// g: (n) <- (g * c) / norm, TF clip_by_norm's float expression.
void clip_norm_in_place(float* g, int64_t n, float c, float norm) {
  for (int64_t i = 0; i < n; ++i) g[i] = (g[i] * c) / norm;
}

// g: (n), clamped in place to [-v, v]; returns the sum of squares after clamping and sets
// *changed when some element moved. NaN elements stay NaN (tf.clip_by_value does the same).
double clamp_in_place(float* g, int64_t n, float v, bool* changed) {
  double acc = 0.0;
  int64_t moved = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float x = g[i];
    const float c = x < -v ? -v : (x > v ? v : x);
    moved += c != x;
    g[i] = c;
    acc += static_cast<double>(c) * c;
  }
  if (moved) *changed = true;
  return acc;
}

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

ClipResult clip_gradients(std::span<const ParamRef> params, const ClipOptions& o,
                          std::span<double> scratch) {
  validate_clip_options(o);
  const bool keep = scratch.size() == params.size();
  double total = 0.0;
  for (size_t v = 0; v < params.size(); ++v) {
    const double s = sum_squares(params[v].grad, params[v].size);
    if (keep) scratch[v] = s;
    total += s;
  }
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
    for (size_t v = 0; v < params.size(); ++v) {
      const ParamRef& p = params[v];
      const double s = keep ? scratch[v] : sum_squares(p.grad, p.size);
      const double norm = std::sqrt(s);
      if (norm > c) {  // also true for +inf: finite elements become 0, inf ones NaN, as in TF
        clip_norm_in_place(p.grad, p.size, static_cast<float>(c), static_cast<float>(norm));
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
      for (const ParamRef& p : params) scale_in_place(p.grad, p.size, scale);
      r.clipped = true;
      r.postclip_global_norm = norm * static_cast<double>(scale);
    }
  } else if (o.clipvalue) {
    const float v = static_cast<float>(*o.clipvalue);
    double post = 0.0;
    for (const ParamRef& p : params) post += clamp_in_place(p.grad, p.size, v, &r.clipped);
    r.postclip_global_norm = std::sqrt(post);
  }
  return r;
}

}  // namespace keel
