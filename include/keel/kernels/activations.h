// Activation kernels: forward y = f(z) and backward dz = f'(z)·dy, elementwise except softmax
// (row-wise). The kind enum comes from keel/kernels/activation_kind.h (a plain enum, no layer
// code), so the layer and the kernel agree on one list.
//
// Formulas (Keras / TF):
//   relu        max(z, 0)                     dz = dy·[z > 0]            (0 at the kink, TF ReluGrad)
//   elu         z > 0 ? z : exp(z) - 1        dz = dy·(y < 0 ? y+1 : 1)  (1 at the kink, TF EluGrad)
//   selu        s·(z > 0 ? z : a(exp(z)-1))   dz = dy·(y < 0 ? y+s·a : s) (s at the kink, TF SeluGrad)
//               s = 1.05070098735548049342, a = 1.67326324235437728481
//   leaky_relu  z > 0 ? z : 0.2·z             dz = dy·(z > 0 ? 1 : 0.2)  (0.2 at the kink)
//               0.2 is tf.nn.leaky_relu's default and Keras 3's activations.leaky_relu default,
//               which is what the *string* "leaky_relu" resolves to. (The LeakyReLU *layer* uses
//               0.3; keel has no LeakyReLU layer yet.)
//   tanh, sigmoid (1/(1+exp(-z))), softplus (log(1+exp(z)), stable form),
//   gelu        0.5·z·(1+erf(z/√2))  (Keras default approximate=False)
//   swish       z·sigmoid(z)
//   hard_sigmoid clip(0.2·z + 0.5, 0, 1)      dz = dy·0.2 where 0 <= 0.2·z + 0.5 <= 1, else 0
//               (Keras 2 backend.hard_sigmoid; Keras 3's relu6(z + 3)/6 has another slope)
//   softmax     exp(z - max)/Σ exp(z - max) per row;  dz = y·(dy - Σ dy·y)
// elu/selu use exp(z) - 1 rather than expm1, as TF's Eigen kernels do.
// elu's backward needs only y (dz = dy·(y+1) below zero), so no pre-activation is kept for it.
#pragma once

#include <cstdint>

#include "keel/kernels/activation_kind.h"

namespace keel {

inline constexpr float kSeluScale = 1.05070098735548049342f;
inline constexpr float kSeluAlpha = 1.67326324235437728481f;
inline constexpr float kLeakyReluSlope = 0.2f;

// z: (rows, cols), y: (rows, cols). y may equal z (in place).
void activation_forward(ActivationKind kind, const float* z, float* y, int64_t rows, int64_t cols);

// z: (rows, cols) pre-activation (unused by relu, elu, selu, tanh, sigmoid, softmax), y: (rows, cols)
// output of the forward, dy: (rows, cols),
// dz: (rows, cols) written. dz may equal dy. Linear needs neither z nor y.
void activation_backward(ActivationKind kind, const float* z, const float* y, const float* dy,
                         float* dz, int64_t rows, int64_t cols);

// e[r, k] = exp(z[r, k] - max_k z[r, k]) for every row of (rows, cols), with the vectorised exp
// of the fast elu (within 2 ulp of expf; 0 below -87 where expf gives < 1.7e-38). e may equal
// z. The softmax forward and the softmax cross-entropy losses share it.
void softmax_exponentials(const float* z, float* e, int64_t rows, int64_t cols);

// Scalar references with libm's expf (the fast elu uses a vectorisable exp, within 2 ulp of
// expf). Same contracts.
void activation_forward_ref(ActivationKind kind, const float* z, float* y, int64_t rows,
                            int64_t cols);
void activation_backward_ref(ActivationKind kind, const float* z, const float* y, const float* dy,
                             float* dz, int64_t rows, int64_t cols);

}  // namespace keel
