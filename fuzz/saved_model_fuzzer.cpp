// libFuzzer target for load_model (TF.js model.json + weight shard). The input is a small
// directory image: a 2-byte little-endian length L, then L bytes of model.json, then the bytes of
// group1-shard1of1.bin (the shard name keel writes). A loaded model is also run once, as
// `keel predict` would.
#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "fuzz_input.h"
#include "keel/core/error.h"
#include "keel/io/saved_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t json_size = std::min<size_t>(data[0] | (size_t{data[1]} << 8), size - 2);
  const std::filesystem::path dir = keel::fuzz::scratch_dir() / "model";
  std::filesystem::create_directories(dir);
  keel::fuzz::write_scratch("model/model.json", data + 2, json_size);
  keel::fuzz::write_scratch("model/group1-shard1of1.bin", data + 2 + json_size, size - 2 - json_size);
  try {
    keel::Model model = keel::load_model(dir);
    (void)model.summary();
  } catch (const keel::Error& e) {
    keel::fuzz::report(e);
  }
  return 0;
}
