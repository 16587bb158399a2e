// Rng: a small, seedable, serialisable random generator (xoshiro256**, seeded by splitmix64).
//
// One user seed controls weight initialisation, shuffling and dropout; each purpose takes its own
// stream (Rng(seed, stream)) so that, e.g., adding a Dropout layer does not change the shuffling
// order. The whole state is four words, so checkpoints store it exactly.
#pragma once

#include <array>
#include <cstdint>

namespace keel {

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed = 0, uint64_t stream = 0);

  uint64_t next_u64();
  // Uniform in [0, 1) with 24 random bits (exactly representable in float).
  float uniform();
  // Uniform in [0, 1) with 53 random bits.
  double uniform_double();
  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method).
  uint64_t uniform_int(uint64_t n);
  // Standard normal (Box-Muller on two doubles; no cached spare, so the state stays 4 words).
  double normal();

  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  State state_{};
};

}  // namespace keel
