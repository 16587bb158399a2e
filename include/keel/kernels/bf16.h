// bfloat16 for the mixed_bfloat16 dtype policy: conversion from/to float32 and which kernels run
// a bf16 product on this machine.
//
// bf16 is the top half of an IEEE float32 (1 sign, 8 exponent, 7 mantissa bits), stored here as
// uint16_t. to_bf16 rounds to nearest-even, as TensorFlow's tf.cast and oneDNN's reorders do
// (tests/data/mixed_precision/rounding.json comes from tf.cast): subnormals round like any value,
// every NaN becomes the quiet NaN 0x7fc0 (as tf.cast makes it), infinities and signed zeros stay,
// values above bf16's largest finite round to infinity.
//
// Which kernels compute a bf16 GEMM (gemm_bf16 in gemm.h):
//   kNative    oneDNN's bf16 matmul (bf16 inputs, f32 accumulation and output). Needs a CPU with
//              avx512_bf16 (cpuid leaf 7.1 EAX bit 5) on which oneDNN creates the primitive.
//   kEmulated  the operands rounded to bf16 and widened back, then the f32 GEMM: the same
//              numbers as kNative up to the summation order, on any CPU, slower than f32.
//              Asked for with KEEL_BF16=emulate (or set_bf16_kernels): to see bf16's effect
//              on a CPU without bf16, and for the tests of the policy's code path.
//   kNone      no bf16 products: layers under mixed_bfloat16 compute in float32 and one warning
//              says so (warn_bf16_fallback_once). The default where kNative is unavailable, and
//              what KEEL_BF16=off asks for.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace keel {

inline uint16_t to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0u;  // every NaN: TF's canonical quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round half to even on the 16 dropped bits
  return static_cast<uint16_t>(bits >> 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// n values; parallel above the kernels' usual size threshold. Never changes the bits.
void to_bf16(const float* x, uint16_t* y, int64_t n);
void from_bf16(const uint16_t* x, float* y, int64_t n);
// x rounded to bf16 and widened back to f32 in place: what a bf16 tensor holds, in f32 storage.
void round_to_bf16(float* x, int64_t n);

enum class Bf16Kernels { kNative, kEmulated, kNone };

// The CPU reports avx512_bf16 (and the OS saves AVX-512 state).
bool cpu_has_avx512_bf16();
// What gemm_bf16 runs: set_bf16_kernels' choice, else KEEL_BF16 ("emulate", "off", "native"),
// else kNative where available, else kNone. An unknown KEEL_BF16, or "native" on a CPU without
// it, is a keel::Error naming the variable and value.
Bf16Kernels bf16_kernels();
// Overrides the environment (tests; the CLI's --bf16). kNative where unavailable throws.
void set_bf16_kernels(Bf16Kernels kernels);
const char* to_string(Bf16Kernels kernels);

// oneDNN's name for the implementation of a bf16 matmul of this shape ("brg:avx512_core_bf16"),
// or "" when bf16_kernels() is not kNative. What the tests read to see real bf16 kernels run.
std::string gemm_bf16_implementation(int64_t m, int64_t n, int64_t k);

// Under kNone, a layer computing in bf16 calls this when it is built: the first call in the
// process prints one warning to stderr (the CPU lacks avx512_bf16; float32 instead; how to get
// emulation). Returns the number of warnings printed so far (0 or 1).
int warn_bf16_fallback_once();
// That number, without printing (for the tests).
int bf16_fallback_warnings();

}  // namespace keel
