// A minimal protobuf wire-format encoder (enough for ONNX ModelProto): varints, fixed32 floats,
// length-delimited strings / bytes / nested messages, packed repeated int64. Field numbers come from
// the caller; encoding follows https://protobuf.dev/programming-guides/encoding/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace keel::protobuf {

class Writer {
 public:
  // Wire type 0. Negative values are encoded as 10-byte two's complement, as protobuf does.
  void int64_field(int field, int64_t value);
  // Wire type 5.
  void float_field(int field, float value);
  // Wire type 2.
  void bytes_field(int field, std::string_view bytes);
  void message_field(int field, const Writer& message) { bytes_field(field, message.bytes_); }
  void packed_int64_field(int field, std::span<const int64_t> values);
  // Appends already encoded fields (e.g. a run of fields built elsewhere).
  void append_raw(const Writer& fields) { bytes_ += fields.bytes_; }

  const std::string& bytes() const { return bytes_; }

 private:
  void tag(int field, int wire_type);
  void varint(uint64_t value);

  std::string bytes_;
};

}  // namespace keel::protobuf
