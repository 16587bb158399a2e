// Checkpoints: everything needed to continue training exactly where it stopped.
//
// File format (little endian), version 1:
//   "KEELCKPT"  u32 version  u32 entry_count
//   entry_count x { u32 name_len, name bytes, u8 dtype (1 f32, 2 f64, 3 i64, 4 u64), u64 count, data }
//   u32 CRC32C of every byte before it
// Unknown versions, a bad magic or a CRC mismatch are rejected with a keel::Error naming the file.
// Files are replaced atomically (write_file_atomically), so a crash at any moment leaves the
// previous complete checkpoint in place.
//
// What a training checkpoint holds (capture_training_state):
//   model/<variable name>          f32   every variable: weights and BN moving statistics
//   optimizer/<variable>/<slot>    f32   optimizer slots (m, v, velocity, ...)
//   optimizer/iterations           i64
//   optimizer/learning_rate        f64   the current (possibly reduced / scheduled) rate
//   train/epoch                    i64   epochs completed = the initial_epoch to resume at
//   train/global_step              i64   training batches run so far
//   train/seed, train/batch_size   u64 / i64   must match on resume (shuffling order)
//   <key>/<layer name>             u64   layer state beyond variables (Layer::save_state):
//                                        rng/<dropout layer> holds a Dropout generator (4 words);
//                                        keys never shadow the prefixes above
//   callback/<state_name>/...      callbacks' own state (EarlyStopping best/wait, ...)
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

class Model;
class Callback;

enum class CheckpointDType : uint8_t { kFloat32 = 1, kFloat64 = 2, kInt64 = 3, kUint64 = 4 };

struct CheckpointEntry {
  std::string name;
  CheckpointDType dtype = CheckpointDType::kFloat32;
  int64_t count = 0;
  std::vector<std::byte> bytes;  // count * element size
};

// An ordered set of named arrays. Getters throw keel::Error naming the entry when it is missing
// or has another type or size.
class Checkpoint {
 public:
  static constexpr uint32_t kVersion = 1;

  void put_floats(std::string_view name, std::span<const float> values);
  void put_doubles(std::string_view name, std::span<const double> values);
  void put_double(std::string_view name, double value) { put_doubles(name, {&value, 1}); }
  void put_int64(std::string_view name, int64_t value);
  void put_uint64s(std::string_view name, std::span<const uint64_t> values);

  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // Copies entry `name` into `out`, whose size must equal the stored count.
  void read_floats(std::string_view name, std::span<float> out) const;
  std::vector<float> floats(std::string_view name) const;
  std::vector<double> doubles(std::string_view name) const;
  double get_double(std::string_view name) const;
  int64_t get_int64(std::string_view name) const;
  std::vector<uint64_t> uint64s(std::string_view name) const;
  const std::vector<CheckpointEntry>& entries() const { return entries_; }

  std::vector<std::byte> serialize() const;
  static Checkpoint deserialize(std::span<const std::byte> bytes, const std::string& what);
  void save(const std::filesystem::path& path) const;  // atomic replace
  static Checkpoint load(const std::filesystem::path& path);

 private:
  const CheckpointEntry* find(std::string_view name) const;
  const CheckpointEntry& get(std::string_view name, CheckpointDType dtype) const;
  void put(std::string_view name, CheckpointDType dtype, int64_t count, const void* data, size_t bytes);
  std::vector<CheckpointEntry> entries_;
};

// Where fit stands when a checkpoint is taken.
struct TrainingProgress {
  int64_t epoch = 0;        // epochs completed: resume with initial_epoch = epoch
  int64_t global_step = 0;  // training batches run
  uint64_t seed = 42;       // FitOptions::seed (shuffling)
  int64_t batch_size = 0;
  // Training samples an epoch (the data minus the validation split); 0: not recorded (checkpoints
  // written before it was, or by a caller that did not say).
  int64_t train_samples = 0;
};

// The file a checkpoint directory holds.
std::filesystem::path checkpoint_path(const std::filesystem::path& dir);

// Captures model variables, optimizer state (compiled model), layer states (Layer::save_state:
// Dropout generators) and the state of every callback that has a state_name().
Checkpoint capture_training_state(Model& model, const TrainingProgress& progress,
                                  std::span<const std::shared_ptr<Callback>> callbacks = {});
// Restores what capture_training_state saved into a model built and compiled the same way
// (variables and optimizer slots are matched by position and size, as Keras load_weights does by
// topology, since default layer names depend on what else the process built), and into
// the callbacks whose state is present. Returns the progress to resume from.
TrainingProgress restore_training_state(const Checkpoint& checkpoint, Model& model,
                                        std::span<const std::shared_ptr<Callback>> callbacks = {});

}  // namespace keel
