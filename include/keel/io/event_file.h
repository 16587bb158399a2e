// TensorBoard event files: TFRecord-framed `tensorflow.Event` protobufs, as tf.summary writes them
// in TF 2.x, encoded by hand (protobuf wire format, field numbers of tensorflow/core/util/event.proto,
// summary.proto, tensor.proto, tensor_shape.proto; proto/tensorboard_subset.proto lists the subset).
// docs/observability.md explains the choices; tools/tensorboard_decode.py is the independent check.
//
// Framing of every record: uint64 length (little endian), masked CRC32C of those 8 bytes, the
// payload, masked CRC32C of the payload. The first record is an Event with file_version
// "brain.Event:2". Scalars are written the TF2 way (a DT_FLOAT scalar `tensor` with plugin
// "scalars", data class SCALAR), histograms as a DT_DOUBLE (k, 3) tensor of (left, right, count)
// with plugin "histograms" (what tensorboard.plugins.histogram.summary_v2 emits).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

class EventFileWriter {
 public:
  // Creates `dir` (and parents) and a new file events.out.tfevents.<seconds>.<host>.<pid>.<n>.v2
  // in it, starting with the file_version record. Throws keel::Error naming the path on failure.
  explicit EventFileWriter(const std::filesystem::path& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  void add_scalar(std::string_view tag, double value, int64_t step);
  // Buckets `values` like TF2's tf.summary.histogram: `buckets` equal-width buckets over
  // [min, max] (one bucket [v - 0.5, v + 0.5] when all values are equal v).
  void add_histogram(std::string_view tag, std::span<const float> values, int64_t step,
                     int buckets = 30);
  // Pushes buffered records to the OS (TensorBoard polls the file while training runs).
  void flush();
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(const std::string& payload);
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

// One scalar summary value read back from an event file.
struct ScalarEvent {
  std::string tag;
  int64_t step = 0;
  double value = 0.0;
};

// The scalar values (TF2 tensor form or TF1 simple_value) of one event file, in file order.
// Every record's CRCs are checked; a torn last record (a writer still running or killed) ends the
// read silently, anything else malformed throws keel::Error naming the file and the offset.
std::vector<ScalarEvent> read_scalar_events(const std::filesystem::path& file);

// The event files (events.out.tfevents.*) directly in `dir`, sorted by name (= creation order).
std::vector<std::filesystem::path> list_event_files(const std::filesystem::path& dir);

}  // namespace keel
