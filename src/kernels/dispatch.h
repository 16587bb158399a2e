// Runtime ISA dispatch for the memory-bound kernels (private to src/kernels).
//
// KEEL_MULTIVERSION compiles a function three times (AVX-512, AVX2, baseline x86-64) and picks
// one at load time through an ifunc resolver (cpuid), so the same binary runs on CPUs without
// AVX-512 and uses it where present. Put it on plain loop functions, never on a function that
// contains an OpenMP region: call the multiversioned body from inside the region instead.
// Which clone runs depends only on the CPU, never on the thread count, so the determinism
// guarantee (same bits whatever the thread count) holds on every machine. Contraction of a*b+c
// into FMA is off in every file that includes this: otherwise the AVX2/AVX-512 clones round
// differently from the baseline one, and BN's x*scale + shift no longer cancels exactly (a batch
// of one must give exactly beta). All clones then give the same bits.
//
// Include it after the standard headers: templates instantiated after the pragma (std::max in a
// softmax loop) get its optimize attribute and GCC then keeps them out of line.
#pragma once

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Clang (the fuzz build) rejects the 64-byte vector helpers of simd.h inside an avx2 clone (it
// checks the vector ABI before inlining), so with clang the kernels compile once, for baseline
// x86-64. GCC is the compiler for speed (scripts/build.sh, CMake default on Debian).
#if defined(__x86_64__) && defined(__has_attribute) && !defined(KEEL_NO_MULTIVERSION) && \
    !defined(__clang__)
#if __has_attribute(target_clones)
#define KEEL_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef KEEL_MULTIVERSION
#define KEEL_MULTIVERSION
#endif

// Kernels that pick their vector width per ISA themselves (an 8-lane ymm loop for AVX2, where a
// 64-byte vector of the KEEL_MULTIVERSION clones can spill through the stack) ask here: cpuid
// once per process. KEEL_PER_ISA says whether such per-ISA target functions are compiled.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(KEEL_NO_MULTIVERSION)
#define KEEL_PER_ISA 1
namespace keel {
enum class VectorIsa { kBaseline, kAvx2, kAvx512 };
inline VectorIsa vector_isa() {
  static const VectorIsa isa = __builtin_cpu_supports("avx512f") ? VectorIsa::kAvx512
                               : __builtin_cpu_supports("avx2")  ? VectorIsa::kAvx2
                                                                 : VectorIsa::kBaseline;
  return isa;
}
}  // namespace keel
#endif
