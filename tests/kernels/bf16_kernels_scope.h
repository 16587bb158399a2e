// Test helper: sets the process's bf16 kernels (keel/kernels/bf16.h) for a scope and restores the
// previous choice after it.
#pragma once

#include "keel/kernels/bf16.h"

namespace keel::testing {

class Bf16KernelsScope {
 public:
  explicit Bf16KernelsScope(Bf16Kernels kernels) : saved_(bf16_kernels()) { set_bf16_kernels(kernels); }
  ~Bf16KernelsScope() { set_bf16_kernels(saved_); }
  Bf16KernelsScope(const Bf16KernelsScope&) = delete;
  Bf16KernelsScope& operator=(const Bf16KernelsScope&) = delete;

 private:
  Bf16Kernels saved_;
};

}  // namespace keel::testing
