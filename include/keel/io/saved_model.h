// Saved models in the TensorFlow.js Layers format: a directory holding
//
//   model.json            {"format": "layers-model", "generatedBy": "keel 0.1.0", "convertedBy": null,
//                          "modelTopology": <tf.keras model.to_json()>,
//                          "weightsManifest": [{"paths": ["group1-shard1of1.bin"],
//                                               "weights": [{"name": "dense/kernel",
//                                                            "shape": [784, 300],
//                                                            "dtype": "float32"}, ...]}],
//                          "userDefinedMetadata": {...}}        (optional)
//   group1-shard1of1.bin  every weight, little-endian float32, in manifest order
//
// which is what tfjs `model.save()` writes and `tf.loadLayersModel()` reads (weight names are
// "<layer name>/<weight>", without TF's ":0"), and what the tfjs converter turns into Keras files.
// Round trip is bit-identical: weights and BN moving statistics are copied as raw float bits.
//
// Atomicity (docs/deployment.md): the new model is written completely into a temporary directory
// next to `dir` (every file fsync'ed), then swapped in with one rename (renameat2 RENAME_EXCHANGE
// when `dir` exists), and only then is the old model removed. A failed or interrupted save leaves
// the previous model at `dir` intact. An existing `dir` is only replaced when it is empty or holds
// nothing but model.json and *.bin files, so a mistyped path never deletes unrelated data.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "keel/model/sequential.h"

namespace keel {

struct SaveModelOptions {
  // Stored as model.json "userDefinedMetadata" (tfjs keeps it: model.getUserDefinedMetadata());
  // must be a JSON object or null (none).
  nlohmann::json user_metadata = nullptr;
};

// The model must be built. Throws keel::Error naming the path on any I/O failure or when `dir`
// exists and is not a saved model directory.
void save_model(const Model& model, const std::filesystem::path& dir,
                const SaveModelOptions& options = {});

// Throws the error save_model would throw for `dir` (exists but is not a directory, or holds files
// that are not part of a saved model). Lets a long job (keel train --save) fail before it starts.
void check_save_target(const std::filesystem::path& dir);

// Reads model.json and its shards and returns the built model with the stored weights. Accepts
// what tfjs writes (any shard names and shard count, optimizer weights marked "group": "optimizer",
// which are ignored). Every inconsistency is a keel::Error naming the file, the weight and the
// value: missing files, an unsupported "format" or dtype, quantized weights, shard bytes that do not
// match the manifest, unknown / duplicate / missing weight names, shapes that disagree with the
// layer config, NaN or infinite values.
Model load_model(const std::filesystem::path& dir);

// model.json "userDefinedMetadata" of a saved model (null when absent).
nlohmann::json load_model_metadata(const std::filesystem::path& dir);

}  // namespace keel
