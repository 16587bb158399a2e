#include "keel/kernels/pool.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "keel/core/error.h"
#include "dispatch.h"
#include "parallel.h"
#include "simd.h"

namespace keel {

namespace {

// The window of output (oh, ow), clipped to the input: rows [h0, h1), columns [w0, w1).
struct Window {
  int64_t h0, h1, w0, w1;
  int64_t cells() const { return (h1 - h0) * (w1 - w0); }
};
Window window(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  const int64_t h = oh * g.stride_h - g.pad_top, w = ow * g.stride_w - g.pad_left;
  return {std::max<int64_t>(h, 0), std::min(h + g.pool_h, g.in_h), std::max<int64_t>(w, 0),
          std::min(w + g.pool_w, g.in_w)};
}

bool parallel_over(int64_t elements) { return elements >= kParallelMinElements; }

// One image of the forward walk both poolings share: each output cell starts at `init`, folds in
// its window's input cells channel by channel with `fold`, then `finish(out, window)` (the
// average's divide). Channels are innermost and contiguous, so the fold vectorises in the
// multiversioned callers below.
template <typename Fold, typename Finish>
KEEL_SIMD_INLINE void pool_image_forward(const Pool2dGeometry& g, const float* xn, float* yn,
                                         float init, Fold fold, Finish finish) {
  const int64_t c = g.channels;
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      float* out = yn + (oh * g.out_w + ow) * c;
      std::fill_n(out, c, init);
      const Window win = window(g, oh, ow);
      for (int64_t h = win.h0; h < win.h1; ++h)
        for (int64_t w = win.w0; w < win.w1; ++w) {
          const float* cell = xn + (h * g.in_w + w) * c;
          for (int64_t k = 0; k < c; ++k) out[k] = fold(out[k], cell[k]);
        }
      finish(out, win);
    }
}

KEEL_MULTIVERSION void max_pool_image_forward(const Pool2dGeometry& g, const float* xn, float* yn) {
  pool_image_forward(
      g, xn, yn, -std::numeric_limits<float>::infinity(),
      [](float acc, float v) { return std::max(acc, v); }, [](float*, const Window&) {});
}

KEEL_MULTIVERSION void avg_pool_image_forward(const Pool2dGeometry& g, const float* xn, float* yn) {
  const int64_t c = g.channels;
  pool_image_forward(
      g, xn, yn, 0.0f, [](float acc, float v) { return acc + v; },
      [c](float* out, const Window& win) {
        // Keras 'same' padding: the divisor counts only the cells inside the input.
        const float cells = static_cast<float>(win.cells());
        for (int64_t k = 0; k < c; ++k) out[k] /= cells;
      });
}

// Whether no input cell lies in two windows (stride >= pool size: the usual 2x2/2 pooling). Then
// each window's gradient can be written, not added, and a whole image in one pass.
bool windows_disjoint(const Pool2dGeometry& g) {
  return g.stride_h >= g.pool_h && g.stride_w >= g.pool_w;
}

// Whether the windows cover every input cell (so no cell of dx is left to zero first).
bool windows_tile_input(const Pool2dGeometry& g) {
  return g.stride_h == g.pool_h && g.stride_w == g.pool_w && g.pad_top == 0 && g.pad_left == 0 &&
         g.out_h * g.pool_h == g.in_h && g.out_w * g.pool_w == g.in_w;
}

// The 16-channel groups of the max-pooling kernels: `lanes` of them real (the last group of a
// channel count that is not a multiple of 16 is partial).
struct LaneGroup {
  int64_t k, lanes;
  simd::f32x16 load(const float* p) const {
    return lanes == simd::kLanes ? simd::load(p) : simd::load_partial(p, lanes);
  }
  void store(float* p, simd::f32x16 v) const {
    if (lanes == simd::kLanes) simd::store(p, v); else simd::store_partial(p, v, lanes);
  }
};
template <typename F>
KEEL_SIMD_INLINE void for_each_lane_group(int64_t channels, const F& f) {
  for (int64_t k = 0; k < channels; k += simd::kLanes) f(LaneGroup{k, std::min(simd::kLanes, channels - k)});
}

// A lane group's winning cells as bytes (windows of <= 256 cells) and back.
typedef uint8_t u8x16 __attribute__((vector_size(16)));
// (A whole group copies a constant 16 bytes: a variable-length memcpy is a library call.)
KEEL_SIMD_INLINE void store_cells(uint8_t* p, simd::i32x16 cells, const LaneGroup& lg) {
  const u8x16 bytes = __builtin_convertvector(cells, u8x16);
  if (lg.lanes == simd::kLanes) std::memcpy(p, &bytes, sizeof bytes);
  else std::memcpy(p, &bytes, size_t(lg.lanes));
}
KEEL_SIMD_INLINE simd::i32x16 load_cells(const uint8_t* p, const LaneGroup& lg) {
  u8x16 bytes = {};
  if (lg.lanes == simd::kLanes) std::memcpy(&bytes, p, sizeof bytes);
  else std::memcpy(&bytes, p, size_t(lg.lanes));
  // Widened in two steps: GCC 12 converts 16 bytes straight to 16 ints one byte at a time
  // (vpinsrd per lane, half of the fused BN backward's time), but each doubling with vpmovzx.
  typedef uint16_t u16x16 __attribute__((vector_size(32)));
  typedef uint32_t u32x16 __attribute__((vector_size(64)));
  return (simd::i32x16)__builtin_convertvector(__builtin_convertvector(bytes, u16x16), u32x16);
}

// One walk over a window's lane group: its max pooling output (std::max from -inf, as
// max_pool_image_forward: a NaN cell is never the output) and its winning cell per lane, the first
// maximum in row-major window order (strict >, as the scalar path and TF's CPU kernel). Callers
// that need only the winner leave `y` unused and the compiler drops it. `cell_at(lg, p)` loads the
// lane group's values of the input cell at p: the input itself (LoadCell), or relu(x·scale +
// shift) for a BN + ReLU fused in front (AffineRelu).
struct WindowMax {
  simd::f32x16 y;
  simd::i32x16 winner;
};
template <typename Cell>
KEEL_SIMD_INLINE WindowMax window_max(const Pool2dGeometry& g, const Window& win, const float* xn,
                                      const LaneGroup& lg, const Cell& cell_at) {
  using namespace simd;
  const auto at = [&](int64_t h, int64_t w) { return (h * g.in_w + w) * g.channels + lg.k; };
  f32x16 y = {};
  y -= std::numeric_limits<float>::infinity();
  f32x16 best = win.cells() > 0 ? cell_at(lg, xn + at(win.h0, win.w0)) : y;
  i32x16 winner = {};
  int32_t cell = 0;
  for (int64_t h = win.h0; h < win.h1; ++h)
    for (int64_t w = win.w0; w < win.w1; ++w, ++cell) {
      const f32x16 v = cell_at(lg, xn + at(h, w));
      y = y < v ? v : y;  // std::max(y, v)
      const i32x16 greater = v > best;
      best = greater ? v : best;
      winner = greater ? i32x16{} + cell : winner;
    }
  return {y, winner};
}
// The input cell itself, what window_max loads by default.
struct LoadCell {
  KEEL_SIMD_INLINE simd::f32x16 operator()(const LaneGroup& lg, const float* p) const { return lg.load(p); }
};
KEEL_SIMD_INLINE WindowMax window_max(const Pool2dGeometry& g, const Window& win, const float* xn,
                                      const LaneGroup& lg) {
  return window_max(g, win, xn, lg, LoadCell{});
}

// A lane group's relu(x·scale + shift), the expression batch_norm_apply's relu evaluates (same
// operations in the same order, fp-contract off: the same bits).
struct AffineRelu {
  const float* scale;
  const float* shift;
  KEEL_SIMD_INLINE simd::f32x16 operator()(const LaneGroup& lg, const float* p) const {
    const simd::f32x16 zero = {};
    const simd::f32x16 v = lg.load(p) * lg.load(scale + lg.k) + lg.load(shift + lg.k);
    return v > 0.0f ? v : zero;
  }
};

// Writes every cell of one window's lane group: dy where `winner` says, 0 elsewhere.
KEEL_SIMD_INLINE void write_window_gradient(const Pool2dGeometry& g, const Window& win,
                                            const LaneGroup& lg, simd::i32x16 winner,
                                            simd::f32x16 grad, float* dxn) {
  const simd::f32x16 zero = {};
  int32_t cell = 0;
  for (int64_t h = win.h0; h < win.h1; ++h)
    for (int64_t w = win.w0; w < win.w1; ++w, ++cell) {
      lg.store(dxn + (h * g.in_w + w) * g.channels + lg.k, winner == cell ? grad : zero);
    }
}

// Max pooling backward of one image with disjoint windows, 16 channels at a time: each window's
// winner per lane (window_max; or, with `argmax`, the one the training forward recorded), then
// every window cell written once: dy where it won, 0 elsewhere.
KEEL_MULTIVERSION void max_pool_image_backward_disjoint(const Pool2dGeometry& g, const float* xn,
                                                        const uint8_t* argmax, const float* dyn,
                                                        float* dxn) {
  using namespace simd;
  const int64_t c = g.channels;
  if (!windows_tile_input(g)) std::fill_n(dxn, g.in_h * g.in_w * c, 0.0f);
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const Window win = window(g, oh, ow);
      if (win.cells() <= 0) continue;
      const int64_t out = (oh * g.out_w + ow) * c;
      for_each_lane_group(c, [&](const LaneGroup& lg) {
        const i32x16 winner = argmax != nullptr ? load_cells(argmax + out + lg.k, lg)
                                                : window_max(g, win, xn, lg).winner;
        write_window_gradient(g, win, lg, winner, lg.load(dyn + out + lg.k), dxn);
      });
    }
}

// The forward of one image with disjoint windows that also records each output's winning cell
// for the backward (when argmax is not null), in the same walk over the window (window_max), over
// the cells as `cell_at` loads them (see window_max).
template <typename Cell>
KEEL_SIMD_INLINE void max_pool_image_forward_winners(const Pool2dGeometry& g, const float* xn,
                                                     const Cell& cell_at, float* yn,
                                                     uint8_t* argmax) {
  const int64_t c = g.channels;
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const Window win = window(g, oh, ow);
      const int64_t out = (oh * g.out_w + ow) * c;
      for_each_lane_group(c, [&](const LaneGroup& lg) {
        const WindowMax m = window_max(g, win, xn, lg, cell_at);
        lg.store(yn + out + lg.k, m.y);
        if (argmax != nullptr) store_cells(argmax + out + lg.k, m.winner, lg);
      });
    }
}
// The outputs are those of max_pool_image_forward.
KEEL_MULTIVERSION void max_pool_image_forward_argmax(const Pool2dGeometry& g, const float* xn,
                                                     float* yn, uint8_t* argmax) {
  max_pool_image_forward_winners(g, xn, LoadCell{}, yn, argmax);
}
// The same of relu(x·scale + shift), without that tensor: each window's cells are normalised and
// clamped as they are loaded. argmax may be null (inference).
KEEL_MULTIVERSION void max_pool_image_forward_affine_relu(const Pool2dGeometry& g, const float* xn,
                                                          AffineRelu affine, float* yn,
                                                          uint8_t* argmax) {
  max_pool_image_forward_winners(g, xn, affine, yn, argmax);
}

// Overlapping windows: each output's gradient is added to its window's first maximum.
void max_pool_image_backward_overlapping(const Pool2dGeometry& g, const float* xn, const float* dyn,
                                         float* dxn) {
  const int64_t c = g.channels;
  std::fill_n(dxn, g.in_h * g.in_w * c, 0.0f);
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const float* d = dyn + (oh * g.out_w + ow) * c;
      const Window win = window(g, oh, ow);
      if (win.cells() <= 0) continue;
      for (int64_t k = 0; k < c; ++k) {
        // First maximum in row-major window order wins (strict >), as TF's CPU kernel.
        int64_t best = (win.h0 * g.in_w + win.w0) * c + k;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            const int64_t i = (h * g.in_w + w) * c + k;
            if (xn[i] > xn[best]) best = i;
          }
        dxn[best] += d[k];
      }
    }
}

// Where each input cell (h, w) of an image lies in the disjoint windows, in row-major order: its
// output cell's offset in the image's output (times channels), or -1 outside every window (dx is
// 0 there), and its cell number in that window's row-major order (clipped at the input's edges,
// as window_max counts them). Built once per geometry and thread, then reused: the fused BN
// backward expands 256 rows at a time in both of its passes, and a table lookup per row replaces
// working out the row's window (divisions and clipping) every time.
struct CellPlace {
  int32_t output;
  int32_t cell;
};
const std::vector<CellPlace>& cell_places(const Pool2dGeometry& g) {
  thread_local std::vector<CellPlace> places;
  thread_local Pool2dGeometry built_for{};
  const auto same = [](const Pool2dGeometry& a, const Pool2dGeometry& b) {
    return a.in_h == b.in_h && a.in_w == b.in_w && a.channels == b.channels && a.out_h == b.out_h &&
           a.out_w == b.out_w && a.pool_h == b.pool_h && a.pool_w == b.pool_w &&
           a.stride_h == b.stride_h && a.stride_w == b.stride_w && a.pad_top == b.pad_top &&
           a.pad_left == b.pad_left;
  };
  if (!places.empty() && same(g, built_for)) return places;
  places.assign(size_t(g.in_h * g.in_w), CellPlace{-1, 0});
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow) {
      const Window win = window(g, oh, ow);
      int32_t cell = 0;
      for (int64_t h = win.h0; h < win.h1; ++h)
        for (int64_t w = win.w0; w < win.w1; ++w, ++cell) {
          places[size_t(h * g.in_w + w)] = {static_cast<int32_t>((oh * g.out_w + ow) * g.channels), cell};
        }
    }
  built_for = g;
  return places;
}

// Channels [k0, k0 + w) (w <= 64: kGroups = ceil(w / 16) lane groups, a constant so the cached
// vectors stay in registers) of max_pool2d_backward_rows, rows of `c` channels. Consecutive rows
// of one window (the two cells of a 2x2 window's row) share its winners and gradient, loaded and
// widened once.
template <int kGroups>
KEEL_SIMD_INLINE void backward_rows_body(const Pool2dGeometry& g, const CellPlace* places,
                                         const float* dy, const uint8_t* argmax, int64_t first_row,
                                         int64_t rows, float* dx_rows, int64_t k0, int64_t w) {
  using namespace simd;
  const int64_t c = g.channels, image_rows = g.in_h * g.in_w, out = g.out_h * g.out_w * c;
  int64_t image = first_row / image_rows, at = first_row % image_rows;
  const f32x16 zero = {};
  i32x16 winner[kGroups] = {};
  f32x16 grad[kGroups] = {};
  int64_t cached = -1;  // the output cell whose winners and gradient are in winner / grad
  for (int64_t r = 0; r < rows; ++r) {
    float* dxr = dx_rows + r * c + k0;
    const CellPlace place = places[at];
    if (place.output < 0) {
      std::fill_n(dxr, w, 0.0f);
    } else {
      const int64_t o = image * out + place.output + k0;
      if (o != cached) {
#pragma GCC unroll 4
        for (int v = 0; v < kGroups; ++v) {
          const LaneGroup lg{v * kLanes, std::min(kLanes, w - v * kLanes)};
          winner[v] = load_cells(argmax + o + lg.k, lg);
          grad[v] = lg.load(dy + o + lg.k);
        }
        cached = o;
      }
#pragma GCC unroll 4
      for (int v = 0; v < kGroups; ++v) {
        const LaneGroup lg{v * kLanes, std::min(kLanes, w - v * kLanes)};
        lg.store(dxr + lg.k, winner[v] == place.cell ? grad[v] : zero);
      }
    }
    if (++at == image_rows) at = 0, ++image;
  }
}

KEEL_MULTIVERSION void max_pool_backward_rows(const Pool2dGeometry& g, const float* dy,
                                              const uint8_t* argmax, int64_t first_row,
                                              int64_t rows, float* dx_rows) {
  const CellPlace* places = cell_places(g).data();
  for (int64_t k0 = 0; k0 < g.channels; k0 += 64) {
    const int64_t w = std::min<int64_t>(64, g.channels - k0);
#define KEEL_ROWS(G, W)                                                          \
  {                                                                              \
    backward_rows_body<G>(g, places, dy, argmax, first_row, rows, dx_rows, k0, W); \
    continue;                                                                    \
  }
    KEEL_FOR_VECTOR_COUNT(w, KEEL_ROWS);
#undef KEEL_ROWS
  }
}

}  // namespace

bool max_pool2d_records_argmax(const Pool2dGeometry& g) {
  return windows_disjoint(g) && g.pool_h * g.pool_w <= 256;
}

void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, uint8_t* argmax) {
  const int64_t in = g.in_h * g.in_w * g.channels, out = g.out_h * g.out_w * g.channels;
  if (argmax != nullptr && !max_pool2d_records_argmax(g)) argmax = nullptr;
#pragma omp parallel for if (parallel_over(g.batch * in))
  for (int64_t n = 0; n < g.batch; ++n) {
    if (argmax != nullptr) {
      max_pool_image_forward_argmax(g, x + n * in, y + n * out, argmax + n * out);
    } else {
      max_pool_image_forward(g, x + n * in, y + n * out);
    }
  }
}

void max_pool2d_forward_affine_relu(const Pool2dGeometry& g, const float* x, const float* scale,
                                    const float* shift, float* y, uint8_t* argmax) {
  const int64_t in = g.in_h * g.in_w * g.channels, out = g.out_h * g.out_w * g.channels;
  if (argmax != nullptr && !max_pool2d_records_argmax(g)) argmax = nullptr;
  const AffineRelu affine{scale, shift};
#pragma omp parallel for if (parallel_over(g.batch * in))
  for (int64_t n = 0; n < g.batch; ++n) {
    max_pool_image_forward_affine_relu(g, x + n * in, affine, y + n * out,
                                       argmax != nullptr ? argmax + n * out : nullptr);
  }
}

void max_pool2d_backward_rows(const Pool2dGeometry& g, const float* dy, const uint8_t* argmax,
                              int64_t first_row, int64_t rows, float* dx_rows) {
  KEEL_CHECK(argmax != nullptr && max_pool2d_records_argmax(g),
             "max_pool2d_backward_rows: needs the winners a forward recorded (disjoint windows of "
             "<= 256 cells); got pool ", g.pool_h, "x", g.pool_w, " stride ", g.stride_h, "x",
             g.stride_w, argmax == nullptr ? " without winners" : "");
  max_pool_backward_rows(g, dy, argmax, first_row, rows, dx_rows);
}

void avg_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y) {
  const int64_t in = g.in_h * g.in_w * g.channels, out = g.out_h * g.out_w * g.channels;
#pragma omp parallel for if (parallel_over(g.batch * in))
  for (int64_t n = 0; n < g.batch; ++n) avg_pool_image_forward(g, x + n * in, y + n * out);
}

void max_pool2d_backward(const Pool2dGeometry& g, const float* x, const float* dy, float* dx,
                         const uint8_t* argmax) {
  const int64_t in = g.in_h * g.in_w * g.channels, out = g.out_h * g.out_w * g.channels;
  const bool disjoint = windows_disjoint(g);
  if (argmax != nullptr && !max_pool2d_records_argmax(g)) argmax = nullptr;
#pragma omp parallel for if (parallel_over(g.batch * in))
  for (int64_t n = 0; n < g.batch; ++n) {
    if (disjoint) {
      max_pool_image_backward_disjoint(g, x + n * in, argmax ? argmax + n * out : nullptr,
                                       dy + n * out, dx + n * in);
    } else {
      max_pool_image_backward_overlapping(g, x + n * in, dy + n * out, dx + n * in);
    }
  }
}

void avg_pool2d_backward(const Pool2dGeometry& g, const float* dy, float* dx) {
  const int64_t c = g.channels;
#pragma omp parallel for if (parallel_over(g.batch * g.in_h * g.in_w * c))
  for (int64_t n = 0; n < g.batch; ++n) {
    float* dxn = dx + n * g.in_h * g.in_w * c;
    std::fill_n(dxn, g.in_h * g.in_w * c, 0.0f);
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const float* d = dy + ((n * g.out_h + oh) * g.out_w + ow) * c;
        const Window win = window(g, oh, ow);
        const float count = static_cast<float>(win.cells());
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            float* cell = dxn + (h * g.in_w + w) * c;
            for (int64_t k = 0; k < c; ++k) cell[k] += d[k] / count;
          }
      }
  }
}

void global_avg_pool_forward(const float* x, float* y, int64_t batch, int64_t spatial,
                             int64_t channels) {
  for (int64_t n = 0; n < batch; ++n) {
    float* out = y + n * channels;
    std::fill_n(out, channels, 0.0f);
    for (int64_t s = 0; s < spatial; ++s) {
      const float* cell = x + (n * spatial + s) * channels;
      for (int64_t k = 0; k < channels; ++k) out[k] += cell[k];
    }
    for (int64_t k = 0; k < channels; ++k) out[k] /= static_cast<float>(spatial);
  }
}

void global_max_pool_forward(const float* x, float* y, int64_t batch, int64_t spatial,
                             int64_t channels) {
  for (int64_t n = 0; n < batch; ++n) {
    float* out = y + n * channels;
    std::fill_n(out, channels, -std::numeric_limits<float>::infinity());
    for (int64_t s = 0; s < spatial; ++s) {
      const float* cell = x + (n * spatial + s) * channels;
      for (int64_t k = 0; k < channels; ++k) out[k] = std::max(out[k], cell[k]);
    }
  }
}

void global_avg_pool_backward(const float* dy, float* dx, int64_t batch, int64_t spatial,
                              int64_t channels) {
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t s = 0; s < spatial; ++s) {
      float* cell = dx + (n * spatial + s) * channels;
      for (int64_t k = 0; k < channels; ++k) {
        cell[k] = dy[n * channels + k] / static_cast<float>(spatial);
      }
    }
}

void global_max_pool_backward(const float* x, const float* y, const float* dy, float* dx,
                              int64_t batch, int64_t spatial, int64_t channels) {
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t k = 0; k < channels; ++k) {
      const float m = y[n * channels + k];
      int64_t ties = 0;
      for (int64_t s = 0; s < spatial; ++s) ties += x[(n * spatial + s) * channels + k] == m;
      const float share = dy[n * channels + k] / static_cast<float>(std::max<int64_t>(ties, 1));
      for (int64_t s = 0; s < spatial; ++s) {
        const int64_t i = (n * spatial + s) * channels + k;
        dx[i] = x[i] == m ? share : 0.0f;
      }
    }
}

void zero_pad2d_forward(const float* x, float* y, int64_t batch, int64_t h, int64_t w, int64_t c,
                        int64_t top, int64_t bottom, int64_t left, int64_t right) {
  const int64_t oh = h + top + bottom, ow = w + left + right;
  std::fill_n(y, batch * oh * ow * c, 0.0f);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < h; ++i) {
      std::memcpy(y + ((n * oh + i + top) * ow + left) * c, x + (n * h + i) * w * c,
                  size_t(w * c) * sizeof(float));
    }
}

void zero_pad2d_backward(const float* dy, float* dx, int64_t batch, int64_t h, int64_t w,
                         int64_t c, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  const int64_t oh = h + top + bottom, ow = w + left + right;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < h; ++i) {
      std::memcpy(dx + (n * h + i) * w * c, dy + ((n * oh + i + top) * ow + left) * c,
                  size_t(w * c) * sizeof(float));
    }
}

}  // namespace keel
