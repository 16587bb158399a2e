// A minimal protobuf wire-format encoder (enough for ONNX ModelProto): varints, fixed32 floats,
// length-delimited strings / bytes / nested messages, packed repeated int64. Field numbers come from
// the caller; encoding follows https://protobuf.dev/programming-guides/encoding/. And a field
// reader (TensorBoard event files for `keel plot`; the tests read exported ONNX files with it).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace keel::protobuf {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

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

struct Field {
  uint32_t number = 0;
  uint32_t type = 0;       // WireType
  uint64_t varint = 0;
  std::string_view bytes;  // kBytes payload, or the 4/8 raw bytes of fixed32/fixed64
};

// Iterates the fields of one message (a view: `data` must outlive the reader and the fields);
// throws keel::Error on malformed input.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool next(Field& f);

 private:
  uint64_t read_varint();
  std::string_view take(uint64_t n);

  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace keel::protobuf
