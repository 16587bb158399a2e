#include "protobuf_wire.h"

#include <bit>
#include <cstring>

#include "keel/core/error.h"

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

bool Reader::next(Field& f) {
  if (pos_ >= data_.size()) return false;
  const uint64_t key = read_varint();
  f.number = static_cast<uint32_t>(key >> 3);
  f.type = static_cast<uint32_t>(key & 7);
  switch (f.type) {
    case kVarint: f.varint = read_varint(); break;
    case kFixed64: f.bytes = take(8); break;
    case kFixed32: f.bytes = take(4); break;
    case kBytes: f.bytes = take(read_varint()); break;
    default: KEEL_FAIL("protobuf wire type ", f.type, " is not supported");
  }
  return true;
}

uint64_t Reader::read_varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    KEEL_CHECK(pos_ < data_.size(), "truncated protobuf varint");
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    v |= uint64_t{b & 0x7Fu} << shift;
    if (!(b & 0x80)) return v;
  }
  KEEL_FAIL("protobuf varint longer than 10 bytes");
}

std::string_view Reader::take(uint64_t n) {
  KEEL_CHECK(n <= data_.size() - pos_, "truncated protobuf field of ", n, " bytes");
  const auto s = data_.substr(pos_, n);
  pos_ += n;
  return s;
}

}  // namespace keel::protobuf
