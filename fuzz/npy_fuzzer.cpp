// libFuzzer target for read_npy: the input is the .npy file.
#include <cstdint>

#include "fuzz_input.h"
#include "keel/core/error.h"
#include "keel/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = keel::fuzz::write_scratch("input.npy", data, size);
  for (bool allow_nonfinite : {false, true}) {
    try {
      const keel::NpyArray array = keel::read_npy(path, {.allow_nonfinite = allow_nonfinite});
      (void)array.to_tensor();
    } catch (const keel::Error& e) {
      keel::fuzz::report(e);
    }
  }
  return 0;
}
