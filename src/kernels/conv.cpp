#include "keel/kernels/conv.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "keel/core/error.h"
#include "keel/kernels/bf16.h"

namespace keel {

int64_t conv_output_length(int64_t n, int64_t k, bool same, int64_t stride, int64_t dilation) {
  const int64_t dk = k + (k - 1) * (dilation - 1);
  return same ? (n + stride - 1) / stride : std::max<int64_t>(0, (n - dk + stride) / stride);
}

Padding1d same_padding(int64_t n, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t dk = k + (k - 1) * (dilation - 1);
  const int64_t out = (n + stride - 1) / stride;
  const int64_t total = std::max<int64_t>(0, (out - 1) * stride + dk - n);
  return {total / 2, total - total / 2};
}

Axis1d conv_axis(int64_t n, int64_t k, bool same, int64_t stride, int64_t dilation) {
  return {conv_output_length(n, k, same, stride, dilation),
          same ? same_padding(n, k, stride, dilation) : Padding1d{0, 0}};
}

namespace {

enum class Kind : int64_t { kForward, kBackwardData, kBackwardWeights };
using Key = std::array<int64_t, 22>;

Key make_key(const Conv2dGeometry& g, Kind kind, bool accumulate, bool bf16) {
  return {g.batch,    g.in_h,       g.in_w,       g.in_c,       g.out_h,   g.out_w,
          g.out_c,    g.kernel_h,   g.kernel_w,   g.stride_h,   g.stride_w, g.dilation_h,
          g.dilation_w, g.pad_top,  g.pad_left,   g.pad_bottom, g.pad_right, g.groups,
          static_cast<int64_t>(kind), accumulate, omp_get_max_threads(), bf16};
}

// A primitive with its own scratchpad (user mode: oneDNN never allocates one during execute).
struct Prim {
  dnnl::primitive primitive;
  dnnl::memory scratchpad;
};

struct CachedConv {
  Prim main;
  bool reorder_weights = false;  // the primitive wants the kernel in another layout
  Prim weights_reorder;          // user -> primitive layout (forward, backward data) or back
  dnnl::memory x, y, user_weights, prim_weights;  // x / y: src-or-diff_src / dst-or-diff_dst
};

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<Key, CachedConv> cache;
};

Context& context() {
  thread_local Context ctx;
  return ctx;
}

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

// Keras's (kh, kw, cin_g, cout) kernel as oneDNN's logical (G, O/G, I/G, KH, KW) (or (O, I, KH,
// KW) without groups), through strides: element [h][w][i][g*ocg + o] sits at
// h*kw*icg*oc + w*icg*oc + i*oc + g*ocg + o.
dnnl::memory::desc user_weights_md(const Conv2dGeometry& g) {
  const int64_t icg = g.in_c / g.groups, oc = g.out_c, ocg = oc / g.groups;
  const int64_t sh = g.kernel_w * icg * oc, sw = icg * oc;
  if (g.groups == 1) {
    return {dims{oc, icg, g.kernel_h, g.kernel_w}, dt::f32, dims{1, oc, sh, sw}};
  }
  return {dims{g.groups, ocg, icg, g.kernel_h, g.kernel_w}, dt::f32, dims{ocg, 1, oc, sh, sw}};
}

dnnl::memory::desc any_weights_md(const Conv2dGeometry& g, dt type = dt::f32) {
  const int64_t icg = g.in_c / g.groups, ocg = g.out_c / g.groups;
  if (g.groups == 1) return {dims{g.out_c, icg, g.kernel_h, g.kernel_w}, type, tag::any};
  return {dims{g.groups, ocg, icg, g.kernel_h, g.kernel_w}, type, tag::any};
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

template <typename P>
Prim make_prim(const typename P::primitive_desc& pd, const dnnl::engine& engine) {
  return {P(pd), dnnl::memory(pd.scratchpad_desc(), engine)};
}

Prim make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to, bool accumulate,
                  const dnnl::engine& engine) {
  dnnl::primitive_attr attr = user_scratchpad_attr();
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);  // to = reorder(from) + 1.0 * to
    attr.set_post_ops(ops);
  }
  const dnnl::reorder::primitive_desc pd(engine, from, engine, to, attr);
  return {dnnl::reorder(pd), dnnl::memory(pd.scratchpad_desc(), engine)};
}

// With `bf16` (mixed precision), the convolution's two inputs are bf16 and its output f32: x and
// the weights forward, dy and the weights for backward data, x and dy for backward weights. The
// user's kernel stays f32 (HWIO); the weights reorder casts it into the primitive's layout.
CachedConv& get_conv(const Conv2dGeometry& g, Kind kind, bool accumulate, bool bf16 = false) {
  Context& ctx = context();
  const Key key = make_key(g, kind, accumulate, bf16);
  auto it = ctx.cache.find(key);
  if (it != ctx.cache.end()) return it->second;

  const dt x_type = bf16 && kind != Kind::kBackwardData ? dt::bf16 : dt::f32;
  const dt y_type = bf16 && kind != Kind::kForward ? dt::bf16 : dt::f32;
  const dt weights_type = bf16 && kind != Kind::kBackwardWeights ? dt::bf16 : dt::f32;
  const dnnl::memory::desc x_md(dims{g.batch, g.in_c, g.in_h, g.in_w}, x_type, tag::nhwc);
  const dnnl::memory::desc y_md(dims{g.batch, g.out_c, g.out_h, g.out_w}, y_type, tag::nhwc);
  // The forward descriptor backward primitives take as a hint: inputs as the forward's.
  const dnnl::memory::desc hint_x_md(dims{g.batch, g.in_c, g.in_h, g.in_w}, bf16 ? dt::bf16 : dt::f32, tag::nhwc);
  const dnnl::memory::desc hint_y_md(dims{g.batch, g.out_c, g.out_h, g.out_w}, dt::f32, tag::nhwc);
  const dims strides{g.stride_h, g.stride_w};
  const dims dilates{g.dilation_h - 1, g.dilation_w - 1};  // oneDNN counts the gaps
  const dims pad_l{g.pad_top, g.pad_left}, pad_r{g.pad_bottom, g.pad_right};
  const auto user_md = user_weights_md(g);
  const auto attr = user_scratchpad_attr();
  const auto algo = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::primitive_desc fwd_pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, hint_x_md,
                                      any_weights_md(g, bf16 ? dt::bf16 : dt::f32), hint_y_md,
                                      strides, dilates, pad_l, pad_r),
      attr, ctx.engine);

  CachedConv entry;
  dnnl::memory::desc prim_md;
  if (kind == Kind::kForward) {
    entry.main = make_prim<dnnl::convolution_forward>(fwd_pd, ctx.engine);
    prim_md = fwd_pd.weights_desc();
  } else if (kind == Kind::kBackwardData) {
    const dnnl::convolution_backward_data::primitive_desc pd(
        dnnl::convolution_backward_data::desc(algo, x_md, any_weights_md(g, weights_type), y_md, strides,
                                              dilates, pad_l, pad_r),
        attr, ctx.engine, fwd_pd);
    entry.main = make_prim<dnnl::convolution_backward_data>(pd, ctx.engine);
    prim_md = pd.weights_desc();
  } else {
    const dnnl::convolution_backward_weights::primitive_desc pd(
        dnnl::convolution_backward_weights::desc(algo, x_md, any_weights_md(g, weights_type), y_md, strides,
                                                 dilates, pad_l, pad_r),
        attr, ctx.engine, fwd_pd);
    entry.main = make_prim<dnnl::convolution_backward_weights>(pd, ctx.engine);
    prim_md = pd.diff_weights_desc();
  }
  entry.x = dnnl::memory(x_md, ctx.engine, nullptr);
  entry.y = dnnl::memory(y_md, ctx.engine, nullptr);
  entry.user_weights = dnnl::memory(user_md, ctx.engine, nullptr);
  // Accumulating backward weights always goes through the reorder (its sum post-op adds).
  entry.reorder_weights = prim_md != user_md || (kind == Kind::kBackwardWeights && accumulate);
  if (entry.reorder_weights) {
    entry.prim_weights = dnnl::memory(prim_md, ctx.engine);
    entry.weights_reorder = kind == Kind::kBackwardWeights
                                ? make_reorder(prim_md, user_md, accumulate, ctx.engine)
                                : make_reorder(user_md, prim_md, false, ctx.engine);
  } else {
    entry.prim_weights = dnnl::memory(user_md, ctx.engine, nullptr);
  }
  return ctx.cache.emplace(key, std::move(entry)).first->second;
}

// The C entry point with stack arrays: the C++ execute() builds a std::unordered_map per call.
void run(const Prim& p, dnnl_exec_arg_t* args, int n) {
  args[n] = {DNNL_ARG_SCRATCHPAD, p.scratchpad.get()};
  dnnl_primitive_execute(p.primitive.get(), context().stream.get(), n + 1, args);
}

void run_reorder(const Prim& p, const dnnl::memory& from, const dnnl::memory& to) {
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from.get()}, {DNNL_ARG_TO, to.get()}, {}};
  run(p, args, 2);
}

// The three operations on f32 data, or with `bf16` on the bf16 operands get_conv describes.
void forward_on(const Conv2dGeometry& g, const void* x, const float* kernel, float* y, bool bf16) {
  if (g.batch == 0) return;
  CachedConv& c = get_conv(g, Kind::kForward, false, bf16);
  c.x.set_data_handle(const_cast<void*>(x));
  c.y.set_data_handle(y);
  c.user_weights.set_data_handle(const_cast<float*>(kernel));
  if (c.reorder_weights) run_reorder(c.weights_reorder, c.user_weights, c.prim_weights);
  else c.prim_weights.set_data_handle(const_cast<float*>(kernel));
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c.x.get()},
                             {DNNL_ARG_WEIGHTS, c.prim_weights.get()},
                             {DNNL_ARG_DST, c.y.get()},
                             {}};
  run(c.main, args, 3);
  dnnl_stream_wait(context().stream.get());
}

void backward_data_on(const Conv2dGeometry& g, const void* dy, const float* kernel, float* dx,
                      bool bf16) {
  if (g.batch == 0) return;
  CachedConv& c = get_conv(g, Kind::kBackwardData, false, bf16);
  c.x.set_data_handle(dx);
  c.y.set_data_handle(const_cast<void*>(dy));
  c.user_weights.set_data_handle(const_cast<float*>(kernel));
  if (c.reorder_weights) run_reorder(c.weights_reorder, c.user_weights, c.prim_weights);
  else c.prim_weights.set_data_handle(const_cast<float*>(kernel));
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_SRC, c.x.get()},
                             {DNNL_ARG_WEIGHTS, c.prim_weights.get()},
                             {DNNL_ARG_DIFF_DST, c.y.get()},
                             {}};
  run(c.main, args, 3);
  dnnl_stream_wait(context().stream.get());
}

void backward_weights_on(const Conv2dGeometry& g, const void* x, const void* dy, float* dkernel,
                         bool accumulate, bool bf16) {
  if (g.batch == 0) {
    if (!accumulate) {
      std::fill_n(dkernel, g.kernel_h * g.kernel_w * (g.in_c / g.groups) * g.out_c, 0.0f);
    }
    return;
  }
  CachedConv& c = get_conv(g, Kind::kBackwardWeights, accumulate, bf16);
  c.x.set_data_handle(const_cast<void*>(x));
  c.y.set_data_handle(const_cast<void*>(dy));
  c.user_weights.set_data_handle(dkernel);
  if (!c.reorder_weights) c.prim_weights.set_data_handle(dkernel);
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, c.x.get()},
                             {DNNL_ARG_DIFF_WEIGHTS, c.prim_weights.get()},
                             {DNNL_ARG_DIFF_DST, c.y.get()},
                             {}};
  run(c.main, args, 3);
  if (c.reorder_weights) run_reorder(c.weights_reorder, c.prim_weights, c.user_weights);
  dnnl_stream_wait(context().stream.get());
}

int64_t input_size(const Conv2dGeometry& g) { return g.batch * g.in_h * g.in_w * g.in_c; }
int64_t output_size(const Conv2dGeometry& g) { return g.batch * g.out_h * g.out_w * g.out_c; }
int64_t kernel_size(const Conv2dGeometry& g) {
  return g.kernel_h * g.kernel_w * (g.in_c / g.groups) * g.out_c;
}

// Per-thread operand copies for the bf16 entry points (they only grow). Slot 0 and 1: the
// operation's two inputs.
uint16_t* bf16_copy(int slot, const float* x, int64_t n) {
  thread_local std::vector<uint16_t> copies[2];
  copies[slot].resize(static_cast<size_t>(n));
  to_bf16(x, copies[slot].data(), n);
  return copies[slot].data();
}
const float* rounded_copy(int slot, const float* x, int64_t n) {
  thread_local std::vector<float> copies[2];
  copies[slot].assign(x, x + n);
  round_to_bf16(copies[slot].data(), n);
  return copies[slot].data();
}

// Native bf16 kernels, or the operands rounded and the f32 kernels (emulation).
bool native_bf16() {
  const Bf16Kernels kernels = bf16_kernels();
  KEEL_CHECK(kernels != Bf16Kernels::kNone, "conv2d bf16: no bf16 kernels on this machine "
             "(bf16_kernels() is kNone); compute in float32 instead");
  return kernels == Bf16Kernels::kNative;
}

}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* kernel, float* y) {
  forward_on(g, x, kernel, y, false);
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* kernel,
                          float* dx) {
  backward_data_on(g, dy, kernel, dx, false);
}

void conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* dy,
                             float* dkernel, bool accumulate) {
  backward_weights_on(g, x, dy, dkernel, accumulate, false);
}

void conv2d_forward_bf16(const Conv2dGeometry& g, const float* x, const float* kernel, float* y) {
  if (native_bf16()) return forward_on(g, bf16_copy(0, x, input_size(g)), kernel, y, true);
  conv2d_forward(g, rounded_copy(0, x, input_size(g)), rounded_copy(1, kernel, kernel_size(g)), y);
}

void conv2d_backward_data_bf16(const Conv2dGeometry& g, const float* dy, const float* kernel,
                               float* dx) {
  if (native_bf16()) return backward_data_on(g, bf16_copy(0, dy, output_size(g)), kernel, dx, true);
  conv2d_backward_data(g, rounded_copy(0, dy, output_size(g)), rounded_copy(1, kernel, kernel_size(g)), dx);
}

void conv2d_backward_weights_bf16(const Conv2dGeometry& g, const float* x, const float* dy,
                                  float* dkernel, bool accumulate) {
  if (native_bf16()) {
    return backward_weights_on(g, bf16_copy(0, x, input_size(g)), bf16_copy(1, dy, output_size(g)),
                               dkernel, accumulate, true);
  }
  conv2d_backward_weights(g, rounded_copy(0, x, input_size(g)), rounded_copy(1, dy, output_size(g)),
                          dkernel, accumulate);
}

int64_t conv2d_cache_size() { return static_cast<int64_t>(context().cache.size()); }

// ---- naive references (double accumulation) ----

namespace {
// f(n, oh, ow, oc, ih, iw, ic, kernel index) for every tap that lands inside the input.
template <typename F>
void for_each_tap(const Conv2dGeometry& g, const F& f) {
  const int64_t icg = g.in_c / g.groups, ocg = g.out_c / g.groups;
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow)
        for (int64_t oc = 0; oc < g.out_c; ++oc) {
          const int64_t group = oc / ocg;
          for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
            const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
            if (ih < 0 || ih >= g.in_h) continue;
            for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
              const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
              if (iw < 0 || iw >= g.in_w) continue;
              for (int64_t c = 0; c < icg; ++c) {
                f(((n * g.out_h + oh) * g.out_w + ow) * g.out_c + oc,
                  ((n * g.in_h + ih) * g.in_w + iw) * g.in_c + group * icg + c,
                  ((kh * g.kernel_w + kw) * icg + c) * g.out_c + oc);
              }
            }
          }
        }
}
}  // namespace

void conv2d_forward_ref(const Conv2dGeometry& g, const float* x, const float* kernel, float* y) {
  std::vector<double> acc(size_t(g.batch * g.out_h * g.out_w * g.out_c), 0.0);
  for_each_tap(g, [&](int64_t yi, int64_t xi, int64_t ki) {
    acc[size_t(yi)] += double(x[xi]) * kernel[ki];
  });
  for (size_t i = 0; i < acc.size(); ++i) y[i] = static_cast<float>(acc[i]);
}

void conv2d_backward_data_ref(const Conv2dGeometry& g, const float* dy, const float* kernel,
                              float* dx) {
  std::vector<double> acc(size_t(g.batch * g.in_h * g.in_w * g.in_c), 0.0);
  for_each_tap(g, [&](int64_t yi, int64_t xi, int64_t ki) {
    acc[size_t(xi)] += double(dy[yi]) * kernel[ki];
  });
  for (size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<float>(acc[i]);
}

void conv2d_backward_weights_ref(const Conv2dGeometry& g, const float* x, const float* dy,
                                 float* dkernel, bool accumulate) {
  std::vector<double> acc(size_t(g.kernel_h * g.kernel_w * (g.in_c / g.groups) * g.out_c), 0.0);
  for_each_tap(g, [&](int64_t yi, int64_t xi, int64_t ki) {
    acc[size_t(ki)] += double(x[xi]) * dy[yi];
  });
  for (size_t i = 0; i < acc.size(); ++i) {
    dkernel[i] = static_cast<float>(accumulate ? dkernel[i] + acc[i] : acc[i]);
  }
}

}  // namespace keel
