// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord framing and keel checkpoints
// use it, plus TensorFlow's "masked" variant for TFRecord headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace keel {

// CRC32C of `bytes`, continuing from `crc` (0 for a fresh checksum). crc32c("123456789") is
// 0xE3069283 (the standard check value; tested).
uint32_t crc32c(std::span<const std::byte> bytes, uint32_t crc = 0);
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// TFRecord's mask: a CRC stored next to the data it covers is rotated and offset, so that a CRC of
// data that itself holds CRCs stays well distributed (tensorflow/core/lib/hash/crc32c.h).
inline uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace keel
