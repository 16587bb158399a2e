#include "protobuf_wire.h"

#include <bit>
#include <cstring>

namespace keel::protobuf {

void Writer::varint(uint64_t value) {
  while (value >= 0x80) {
    bytes_.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  bytes_.push_back(static_cast<char>(value));
}

void Writer::tag(int field, int wire_type) {
  varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void Writer::int64_field(int field, int64_t value) {
  tag(field, 0);
  varint(static_cast<uint64_t>(value));
}

void Writer::float_field(int field, float value) {
  static_assert(std::endian::native == std::endian::little, "fixed32 is little-endian on the wire");
  tag(field, 5);
  char raw[4];
  std::memcpy(raw, &value, 4);
  bytes_.append(raw, 4);
}

void Writer::bytes_field(int field, std::string_view bytes) {
  tag(field, 2);
  varint(bytes.size());
  bytes_.append(bytes);
}

void Writer::packed_int64_field(int field, std::span<const int64_t> values) {
  Writer body;
  for (int64_t v : values) body.varint(static_cast<uint64_t>(v));
  bytes_field(field, body.bytes_);
}

}  // namespace keel::protobuf
