#include "keel/kernels/bf16.h"

#include <cpuid.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string_view>

#include <oneapi/dnnl/dnnl.hpp>

#include "parallel.h"
#include "keel/core/error.h"

namespace keel {

namespace {

template <typename F>
void parallel_elements(int64_t n, const F& f) {
  if (n < kParallelMinElements) return f(int64_t{0}, n);
#pragma omp parallel
  {
    const Range r = thread_share(n, 64);
    f(r.begin, r.end);
  }
}

// oneDNN agrees: it creates a bf16 matmul (it checks the ISA itself; a CPU without bf16 support,
// or one capped by ONEDNN_MAX_CPU_ISA, throws).
bool onednn_creates_bf16_matmul() {
  try {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    const dnnl::memory::desc a({16, 16}, dt::bf16, tag::ab), b({16, 16}, dt::bf16, tag::ab),
        c({16, 16}, dt::f32, tag::ab);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), engine);
    // oneDNN's reference matmul would "run" bf16 at a fraction of f32's speed: not a bf16 kernel.
    return std::string_view(pd.impl_info_str()).find("ref") == std::string_view::npos;
  } catch (const dnnl::error&) {
    return false;
  }
}

bool native_available() {
  static const bool available = cpu_has_avx512_bf16() && onednn_creates_bf16_matmul();
  return available;
}

Bf16Kernels from_environment() {
  const char* env = std::getenv("KEEL_BF16");
  const std::string_view value = env == nullptr ? "" : env;
  if (value.empty()) return native_available() ? Bf16Kernels::kNative : Bf16Kernels::kNone;
  if (value == "emulate") return Bf16Kernels::kEmulated;
  if (value == "off") return Bf16Kernels::kNone;
  KEEL_CHECK(value == "native", "KEEL_BF16='", value,
             "' is not one of 'native', 'emulate', 'off' (or unset: native where the CPU has it)");
  KEEL_CHECK(native_available(), "KEEL_BF16=native: this CPU has no bf16 matmul kernels (cpuid "
             "avx512_bf16: ", cpu_has_avx512_bf16() ? "yes" : "no",
             "); use KEEL_BF16=emulate or unset it");
  return Bf16Kernels::kNative;
}

std::atomic<int> chosen{-1};  // -1: not chosen yet; else a Bf16Kernels value
std::atomic<int> fallback_warnings{0};

}  // namespace

void to_bf16(const float* x, uint16_t* y, int64_t n) {
  parallel_elements(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = to_bf16(x[i]);
  });
}

void from_bf16(const uint16_t* x, float* y, int64_t n) {
  parallel_elements(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = from_bf16(x[i]);
  });
}

void round_to_bf16(float* x, int64_t n) {
  parallel_elements(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] = from_bf16(to_bf16(x[i]));
  });
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0 || (b & (1u << 16)) == 0) return false;  // avx512f
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) == 0 || (a & (1u << 5)) == 0) return false;  // avx512_bf16
  // The OS must save the AVX-512 registers (XCR0 bits 1, 2, 5, 6, 7).
  if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & (1u << 27)) == 0) return false;  // osxsave
  unsigned lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0xe6u) == 0xe6u;
#else
  return false;
#endif
}

Bf16Kernels bf16_kernels() {
  int value = chosen.load();
  if (value < 0) {
    static std::mutex mutex;
    const std::lock_guard lock(mutex);
    if (chosen.load() < 0) chosen = static_cast<int>(from_environment());
    value = chosen.load();
  }
  return static_cast<Bf16Kernels>(value);
}

void set_bf16_kernels(Bf16Kernels kernels) {
  KEEL_CHECK(kernels != Bf16Kernels::kNative || native_available(),
             "set_bf16_kernels(native): this CPU has no bf16 matmul kernels (cpuid avx512_bf16: ",
             cpu_has_avx512_bf16() ? "yes" : "no", ")");
  chosen = static_cast<int>(kernels);
}

const char* to_string(Bf16Kernels kernels) {
  switch (kernels) {
    case Bf16Kernels::kNative: return "native";
    case Bf16Kernels::kEmulated: return "emulate";
    case Bf16Kernels::kNone: return "off";
  }
  return "?";
}

int warn_bf16_fallback_once() {
  int expected = 0;
  if (fallback_warnings.compare_exchange_strong(expected, 1)) {
    std::fprintf(stderr,
                 "keel: warning: dtype policy 'mixed_bfloat16': %s, so layers compute in float32 "
                 "(same results as the 'float32' policy). KEEL_BF16=emulate rounds to bfloat16 on "
                 "float32 kernels instead (slower).\n",
                 cpu_has_avx512_bf16() ? "KEEL_BF16=off or oneDNN has no bf16 matmul here"
                                       : "this CPU has no avx512_bf16 (cpuid)");
  }
  return fallback_warnings.load();
}

int bf16_fallback_warnings() { return fallback_warnings.load(); }

}  // namespace keel
