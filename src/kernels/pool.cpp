#include "keel/kernels/pool.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "parallel.h"

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

// The forward walk both poolings share: each output cell starts at `init`, folds in its window's
// input cells channel by channel with `fold`, then `finish(out, window)` (the average's divide).
template <typename Fold, typename Finish>
void pool2d_forward(const Pool2dGeometry& g, const float* x, float* y, float init, Fold fold,
                    Finish finish) {
  const int64_t c = g.channels;
#pragma omp parallel for if (parallel_over(g.batch * g.in_h * g.in_w * c))
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* xn = x + n * g.in_h * g.in_w * c;
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        float* out = y + ((n * g.out_h + oh) * g.out_w + ow) * c;
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
}

}  // namespace

void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y) {
  pool2d_forward(
      g, x, y, -std::numeric_limits<float>::infinity(),
      [](float acc, float v) { return std::max(acc, v); }, [](float*, const Window&) {});
}

void avg_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y) {
  const int64_t c = g.channels;
  pool2d_forward(
      g, x, y, 0.0f, [](float acc, float v) { return acc + v; },
      [c](float* out, const Window& win) {
        // Keras 'same' padding: the divisor counts only the cells inside the input.
        const float cells = static_cast<float>(win.cells());
        for (int64_t k = 0; k < c; ++k) out[k] /= cells;
      });
}

void max_pool2d_backward(const Pool2dGeometry& g, const float* x, const float* dy, float* dx) {
  const int64_t c = g.channels;
#pragma omp parallel for if (parallel_over(g.batch * g.in_h * g.in_w * c))
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* xn = x + n * g.in_h * g.in_w * c;
    float* dxn = dx + n * g.in_h * g.in_w * c;
    std::fill_n(dxn, g.in_h * g.in_w * c, 0.0f);
    for (int64_t oh = 0; oh < g.out_h; ++oh)
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const float* d = dy + ((n * g.out_h + oh) * g.out_w + ow) * c;
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
