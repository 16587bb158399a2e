// Gradient clipping (tf.keras >= 2.11 Optimizer._clip_gradients; TF clip_ops formulas).
//
// One read pass over the gradients (optimizer_kernels.h, parallel over fixed chunks): the
// pre-clip norms (always: the pre-clip norm is reported and is how non-finite gradients are
// detected before anything changes) and, for clipvalue, the post-clamp sums. The rule then
// becomes one GradTransform per variable, which the optimizer applies as it reads each gradient
// element, so the clipped gradient is never written. Norms are accumulated in double; the element
// updates use TF's float32 expressions: clipnorm (g*c)/norm (a vectorisable divide, so the seed's
// [0.9, 100] gives 0.008999635 exactly as TF prints it), global_clipnorm g * (c * min(1/gn, 1/c)).
//
// AGC (agc = lambda) is the one part that writes the gradients: after the read pass (so the
// reported pre-clip norm is the raw gradient's and a non-finite gradient is caught before anything
// changes), each variable's gradient is rescaled in place unit by unit (kernels/agc.h). When it
// scaled any unit the norms are read once more, so the Keras rule decides on the AGC'd gradient
// exactly as Keras would on a gradient handed to it already clipped.
#include "keel/optimizers/clipping.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "keel/core/error.h"
#include "keel/kernels/agc.h"

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

// AGC's view of a variable: (rows, units), one unit per index of the last axis (the output unit
// of Keras's (in, out) and (kh, kw, cin, cout) kernels), rows the product of the other axes.
// A tensor with at most one axis longer than 1 is a single unit, as DeepMind's unitwise_norm does
// for len(squeeze(x).shape) <= 1: biases and gains, but also a (1, out) kernel. Deliberate
// difference from DeepMind: rank 3 (Conv1D's (k, cin, cout)) reduces axes 0 and 1, not only
// axis 0, and rank >= 5 is accepted (every axis but the last), so a unit is always an output unit.
struct AgcView {
  int64_t rows = 0, units = 0;
};

AgcView agc_view(const ParamRef& p) {
  int64_t long_axes = 0, count = 1;
  for (int64_t d : p.shape) {
    long_axes += d > 1;
    count *= d;
  }
  KEEL_CHECK(p.shape.empty() || count == p.size, "variable '", p.name, "' has a shape of ", count,
             " elements but size ", p.size, "; expected ParamRef::shape to match size");
  if (long_axes <= 1) return {p.size, 1};
  const int64_t units = p.shape.back();
  return {p.size / units, units};
}

// Scales every variable's gradient in place; returns the number of units scaled. Allocates the
// scratch on the first call only (the widest variable fixes it).
int64_t apply_agc(std::span<const ParamRef> params, double lambda, ClipWorkspace& ws) {
  int64_t clipped = 0;
  for (const ParamRef& p : params) {
    if (p.exclude_from_agc || p.size == 0) continue;
    const AgcView v = agc_view(p);
    if (static_cast<int64_t>(ws.agc_scale.size()) < v.units) ws.agc_scale.resize(v.units);
    clipped += agc_clip(p.value, p.grad, v.rows, v.units, lambda, ws.agc_scale.data());
  }
  return clipped;
}

// Sums of squares of ws.grads (with the clamp's sums when v > 0) into ws.chunk_sums and
// ws.sum_squares: per variable in chunk order, then over variables in order, on one thread.
double gradient_sums(ClipWorkspace& ws, float v) {
  gradient_chunk_sums(ws.grads.data(), ws.chunks, v, ws.chunk_sums.data());
  std::fill(ws.sum_squares.begin(), ws.sum_squares.end(), 0.0);
  for (size_t c = 0; c < ws.chunks.size(); ++c)
    ws.sum_squares[ws.chunks[c].var] += ws.chunk_sums[c].sum_squares;
  double total = 0.0;
  for (double s : ws.sum_squares) total += s;
  return total;
}

}  // namespace

void validate_clip_options(const ClipOptions& o, std::string_view where) {
  check_positive(o.clipnorm, "clipnorm", where);
  check_positive(o.global_clipnorm, "global_clipnorm", where);
  check_positive(o.clipvalue, "clipvalue", where);
  check_positive(o.agc, "agc", where);
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
  double total = gradient_sums(ws, v);
  std::fill(ws.transforms.begin(), ws.transforms.end(), GradTransform{});

  ClipResult r;
  r.preclip_global_norm = r.postclip_global_norm = std::sqrt(total);
  r.finite = std::isfinite(total);
  if (!r.finite) {
    if (o.on_nonfinite == NonFinitePolicy::kError) throw_nonfinite(params);
    if (o.on_nonfinite == NonFinitePolicy::kSkipStep) return r;
  }
  if (o.agc) {
    r.agc_clipped_units = apply_agc(params, *o.agc, ws);
    if (r.agc_clipped_units > 0) {
      r.clipped = true;
      total = gradient_sums(ws, v);  // what the Keras rule below sees
      r.postclip_global_norm = std::sqrt(total);
    }
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
    const double norm = r.postclip_global_norm;  // after AGC; the raw norm without it
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
