// Gate activations of the recurrent cells (SimpleRNN, LSTM, GRU): y = f(z) over n contiguous
// values. sigmoid and tanh, which every LSTM/GRU step applies to 3-4 gates of (batch, units), are
// vectorised with the exp of the fast elu (sigmoid = 1/(1 + e^-z) and tanh = (1 - e^-2|z|) /
// (1 + e^-2|z|), both from exp of a non-positive argument, so nothing overflows) instead of one
// scalar libm call per value; the recurrent golden tests hold the layers to tf.keras within 2e-6.
// The other kinds go through activation_forward. Softmax is not a gate activation (the layers refuse it).
#pragma once

#include <cstdint>

#include "keel/kernels/activation_kind.h"

namespace keel {

// y may equal z.
void gate_activation_forward(ActivationKind kind, const float* z, float* y, int64_t n);

}  // namespace keel
