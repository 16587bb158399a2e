// 2-D max / average pooling and global pooling on NHWC tensors, TensorFlow semantics
// (keras-semantics-r2.md §1.4):
//  * windows are placed by the same rule as convolutions (conv.h: 'same' pads by TF's rule, the
//    odd cell after);
//  * max pooling: padded cells never win; backward routes each output's gradient to the first
//    maximum of its window in row-major window order (TF's CPU MaxPoolGrad);
//  * average pooling: the divisor is the number of window cells inside the input (padding
//    excluded, so a 'same' corner of one real cell is that cell's value).
// Memory-bound; parallel over images (each image's output and input gradient written by one
// thread, in a fixed order), vectorised over channels, so results never depend on the thread
// count. Max pooling backward with disjoint windows (stride >= pool size) writes each window once
// instead of zeroing dx and adding into it.
#pragma once

#include <cstdint>

namespace keel {

struct Pool2dGeometry {
  int64_t batch = 0;
  int64_t in_h = 0, in_w = 0, channels = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t pool_h = 2, pool_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t pad_top = 0, pad_left = 0;  // bottom / right: whatever out_h / out_w imply
};

// x: (batch, in_h, in_w, channels); y: (batch, out_h, out_w, channels) written.
// argmax (max pooling, optional): (batch, out_h, out_w, channels) bytes, each output's winning
// window cell, written where max_pool2d_records_argmax(g) (disjoint windows of <= 256 cells, the
// usual 2x2/2): the backward then reads these bytes instead of the input to find the winners.
void max_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y,
                        uint8_t* argmax = nullptr);
bool max_pool2d_records_argmax(const Pool2dGeometry& g);
// max_pool2d_forward of relu(x·scale + shift) (scale, shift: (channels)), without writing that
// tensor: the pooling of a BatchNormalization + ReLU's output, for the plan's BN + ReLU +
// MaxPooling2D fusion. The same bits as batch_norm_apply(relu) then max_pool2d_forward; argmax
// (optional, where max_pool2d_records_argmax(g)) as there, winners among the clamped values.
void max_pool2d_forward_affine_relu(const Pool2dGeometry& g, const float* x, const float* scale,
                                    const float* shift, float* y, uint8_t* argmax);
void avg_pool2d_forward(const Pool2dGeometry& g, const float* x, float* y);
// dy: (batch, out_h, out_w, channels); dx: (batch, in_h, in_w, channels) written. argmax: what
// max_pool2d_forward recorded for this x, or nullptr (the winners are found from x).
void max_pool2d_backward(const Pool2dGeometry& g, const float* x, const float* dy, float* dx,
                         const uint8_t* argmax = nullptr);
void avg_pool2d_backward(const Pool2dGeometry& g, const float* dy, float* dx);
// Rows [first_row, first_row + rows) of max_pool2d_backward's dx viewed as (batch·in_h·in_w,
// channels), written to dx_rows (rows, channels) from the winners a forward recorded (argmax
// required, so max_pool2d_records_argmax(g)). The fused BN backward expands the pool's gradient
// chunk by chunk into cache with it, instead of writing and reading back the whole dx.
void max_pool2d_backward_rows(const Pool2dGeometry& g, const float* dy, const uint8_t* argmax,
                              int64_t first_row, int64_t rows, float* dx_rows);

// x: (batch, spatial, channels); y: (batch, channels) = mean / max over spatial
void global_avg_pool_forward(const float* x, float* y, int64_t batch, int64_t spatial,
                             int64_t channels);
void global_max_pool_forward(const float* x, float* y, int64_t batch, int64_t spatial,
                             int64_t channels);
// dy: (batch, channels); dx: (batch, spatial, channels) written.
// Max: TF's reduce_max gradient splits dy equally among the cells equal to the maximum.
void global_avg_pool_backward(const float* dy, float* dx, int64_t batch, int64_t spatial,
                              int64_t channels);
void global_max_pool_backward(const float* x, const float* y, const float* dy, float* dx,
                              int64_t batch, int64_t spatial, int64_t channels);

// x: (batch, h, w, c); y: (batch, h + top + bottom, w + left + right, c) with zeros around.
void zero_pad2d_forward(const float* x, float* y, int64_t batch, int64_t h, int64_t w, int64_t c,
                        int64_t top, int64_t bottom, int64_t left, int64_t right);
// The crop: dx (batch, h, w, c) written from dy (batch, h+top+bottom, w+left+right, c).
void zero_pad2d_backward(const float* dy, float* dx, int64_t batch, int64_t h, int64_t w,
                         int64_t c, int64_t top, int64_t bottom, int64_t left, int64_t right);

}  // namespace keel
