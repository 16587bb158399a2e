// Branch-free elementwise math that GCC/Clang vectorise (private to src/kernels).
#pragma once

#include <bit>
#include <cstdint>

namespace keel {

// exp(x) for x <= 0 (ELU's negative branch), Cephes-style: x = n·ln2 + r, |r| <= ln2/2,
// exp(r) by a degree-6 polynomial, 2^n through the exponent bits. Within 2 ulp of expf on
// [-87, 0]; below -87 it returns ~1e-38 instead of a denormal/0, so exp(x) - 1 is still -1.
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float fx = static_cast<float>(static_cast<int32_t>(x * 1.44269504088896341f - 0.5f));
  // (int) truncates towards zero; x·log2e - 0.5 <= -0.5 so this is round-to-nearest of x·log2e.
  float r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

// Keras/TF elu with alpha 1: z > 0 ? z : exp(z) - 1.
inline float elu(float z) {
  const float e = exp_nonpositive(z < 0.0f ? z : 0.0f) - 1.0f;
  return z > 0.0f ? z : e;
}

// TF EluGrad from the output: y < 0 ? dy·(y + 1) : dy (1 at the kink y == 0).
inline float elu_grad(float y, float dy) { return y < 0.0f ? dy * (y + 1.0f) : dy; }

}  // namespace keel
