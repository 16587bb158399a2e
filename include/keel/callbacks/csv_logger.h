// CSVLogger: one row per epoch, Keras's layout: "epoch" then the log keys sorted by name
// (accuracy,loss,val_accuracy,val_loss), values as Python's repr(float), "NA" for a key missing
// from a stopped epoch. The file is flushed after every row.
//
// append = true continues an existing file without a second header (Keras). keel extension for
// exact resume: when fit starts at initial_epoch k > 0, rows with epoch >= k (written by a run
// that died after logging but before its checkpoint) are dropped first, so the log never holds an
// epoch twice.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "keel/model/callback.h"

namespace keel {

class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::filesystem::path filename, std::string separator = ",", bool append = false);
  ~CSVLogger() override;

  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int64_t epoch, const Logs& logs) override;
  void on_train_end(const Logs& logs) override;

 private:
  std::filesystem::path filename_;
  std::string separator_;
  bool append_;
  bool write_header_ = true;
  std::vector<std::string> keys_;
  std::FILE* file_ = nullptr;
};

// Python's repr() of a float: shortest round-trip digits, "1.0", "0.0001", "1e-05", "nan", "inf".
std::string python_float_repr(double value);
// The same for a float32 (numpy's repr of np.float32: shortest digits that round-trip in float32),
// as Keras prints learning rates: "0.05", not "0.05000000074505806".
std::string numpy_float32_repr(float value);

}  // namespace keel
