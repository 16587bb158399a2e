// libFuzzer target for checkpoints: Checkpoint::load, then restore_training_state into a small
// compiled model (where names, sizes and types from the file meet the model). The first byte
// picks the mode: odd = the harness appends the correct CRC32C, so mutations get past the
// checksum into the entry parser and the restore; even = the rest is the file as is.
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz_input.h"
#include "keel/core/error.h"
#include "keel/io/checkpoint.h"
#include "keel/io/crc32c.h"
#include "keel/io/model_config.h"
#include "keel/optimizers/optimizer.h"

namespace {

// Dense(3) -> BatchNormalization -> Dropout -> Dense(2) on 4 features, SGD with momentum: every
// kind of state a checkpoint holds (weights, moving statistics, a slot, a Dropout generator).
keel::Model& model() {
  static keel::Model* m = [] {
    auto* built = new keel::Model(keel::model_from_json(R"({"class_name": "Sequential",
      "config": {"name": "fuzz", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},
        {"class_name": "Dense", "config": {"units": 3, "name": "dense"}},
        {"class_name": "BatchNormalization", "config": {"name": "bn"}},
        {"class_name": "Dropout", "config": {"rate": 0.5, "name": "drop"}},
        {"class_name": "Dense", "config": {"units": 2, "name": "out"}}]}})", "<fuzz model>"));
    built->compile({.optimizer = std::shared_ptr<keel::Optimizer>(keel::make_optimizer(
                        "sgd", {{"momentum", 0.9}})),
                    .loss = "sparse_categorical_crossentropy"});
    return built;
  }();
  return *m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::vector<uint8_t> file(data + 1, data + size);
  if (data[0] & 1) {
    const uint32_t crc = keel::crc32c(file.data(), file.size());
    for (int i = 0; i < 4; ++i) file.push_back(static_cast<uint8_t>(crc >> (8 * i)));
  }
  const auto path = keel::fuzz::write_scratch("checkpoint.keel", file.data(), file.size());
  try {
    const keel::Checkpoint checkpoint = keel::Checkpoint::load(path);
    (void)keel::restore_training_state(checkpoint, model());
  } catch (const keel::Error& e) {
    keel::fuzz::report(e);
  }
  return 0;
}
