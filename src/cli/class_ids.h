// Class ids for the sparse categorical losses, checked against the model before training or
// evaluating: the loss only checks them batch by batch, after the epochs before ran, and names a
// sample of the batch rather than the file and row.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "keel/model/data_view.h"
#include "keel/model/sequential.h"

namespace keel::cli {

// Every label of `data` (one per sample) must be an integer class id in [0, classes) where
// classes is the width of the model's single output; a no-op for other losses, multi-output
// models or labels that are not one per sample (the loss reports those). Throws keel::Error
// naming `file`, the row (the sample index in the file) and the value.
void check_class_ids(const Model& model, const std::string& loss, const DataView& data,
                     const std::string& file);

// The targets of `data` must have the width the loss compares with the model's single (None, k)
// output: 1 (a class id) for the sparse losses, k for the others; then check_class_ids. Throws
// keel::Error naming `file`, both widths and the loss (class ids with categorical_crossentropy
// failed inside the loss, after the summary, naming neither flag nor file).
void check_targets(const Model& model, const std::string& loss, const DataView& data,
                   const std::string& file);

// The labels file of a Fashion-MNIST split in `dir` ("train" or "t10k"), as the loader finds it.
std::string fashion_mnist_labels_file(const std::filesystem::path& dir, const std::string& split);

}  // namespace keel::cli
