#include "keel/io/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <limits>
#include <optional>
#include <span>
#include <sstream>

#include "keel/core/error.h"
#include "keel/core/huge_pages.h"
#include "keel/io/atomic_file.h"
#include "keel/io/file_bytes.h"

namespace keel {

const char* idx_type_name(IdxType type) {
  switch (type) {
    case IdxType::kUint8: return "uint8";
    case IdxType::kInt8: return "int8";
    case IdxType::kInt16: return "int16";
    case IdxType::kInt32: return "int32";
    case IdxType::kFloat32: return "float32";
    case IdxType::kFloat64: return "float64";
  }
  return "unknown";
}

size_t idx_type_size(IdxType type) {
  switch (type) {
    case IdxType::kUint8:
    case IdxType::kInt8: return 1;
    case IdxType::kInt16: return 2;
    case IdxType::kInt32:
    case IdxType::kFloat32: return 4;
    case IdxType::kFloat64: return 8;
  }
  return 0;
}

int64_t IdxArray::size() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

namespace {

constexpr uint64_t kMaxBytes = uint64_t{1} << 62;  // saturation value for claimed sizes

template <typename T>
T load_native(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Reverses each element's bytes when the host is little-endian (IDX is big-endian both ways).
void swap_to_from_big_endian(uint8_t* data, size_t count, size_t elem_size) {
  if (std::endian::native == std::endian::big || elem_size == 1) return;
  for (size_t i = 0; i < count; ++i) std::reverse(data + i * elem_size, data + (i + 1) * elem_size);
}

bool is_gzip(std::span<const std::byte> bytes) {
  return bytes.size() >= 2 && bytes[0] == std::byte{0x1f} && bytes[1] == std::byte{0x8b};
}

// Streams the decompressed contents of an in-memory gzip file (several members allowed, as
// `cat a.gz b.gz` produces). Output is only ever allocated as it is produced.
class GzipStream {
 public:
  GzipStream(const std::filesystem::path& path, std::span<const std::byte> in)
      : path_(path), in_(in) {
    stream_.zalloc = Z_NULL;
    stream_.zfree = Z_NULL;
    stream_.opaque = Z_NULL;
    KEEL_CHECK(inflateInit2(&stream_, 15 + 16) == Z_OK, path_.string(),
               ": cannot initialise zlib for gzip decompression");
  }
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;
  ~GzipStream() { inflateEnd(&stream_); }

  uint64_t produced() const { return produced_; }

  // Appends up to `max` decompressed bytes to `out`; returns how many. Fewer than `max` means
  // the compressed stream ended cleanly (CRC and length verified by zlib).
  uint64_t read(std::vector<uint8_t>& out, uint64_t max) {
    uint64_t got = 0;
    while (got < max && !finished_) {
      if (stream_.avail_in == 0 && in_pos_ < in_.size()) {
        // avail_in is 32-bit: feed large inputs in 1 GiB slices.
        const size_t n = std::min<size_t>(in_.size() - in_pos_, size_t{1} << 30);
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in_.data() + in_pos_));
        stream_.avail_in = static_cast<uInt>(n);
        in_pos_ += n;
      }
      const size_t old_size = out.size();
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(max - got, uint64_t{1} << 20));
      out.resize(old_size + chunk);
      stream_.next_out = reinterpret_cast<Bytef*>(out.data() + old_size);
      stream_.avail_out = static_cast<uInt>(chunk);
      const int ret = inflate(&stream_, Z_NO_FLUSH);
      const size_t n = chunk - stream_.avail_out;
      out.resize(old_size + n);
      got += n;
      produced_ += n;
      if (ret == Z_STREAM_END) {
        if (stream_.avail_in == 0 && in_pos_ < in_.size()) continue;  // refill, then decide
        if (stream_.avail_in == 0) {
          finished_ = true;
        } else if (stream_.avail_in >= 2 && stream_.next_in[0] == 0x1f && stream_.next_in[1] == 0x8b) {
          KEEL_CHECK(inflateReset(&stream_) == Z_OK, path_.string(), ": zlib reset failed");
        } else {
          KEEL_FAIL(path_.string(), ": ", stream_.avail_in + (in_.size() - in_pos_),
                    " bytes of trailing garbage after the gzip stream (after ", produced_,
                    " decompressed bytes); expected the file to end or another gzip member");
        }
      } else if (ret == Z_BUF_ERROR || (ret == Z_OK && n == 0 && stream_.avail_in == 0 &&
                                        in_pos_ == in_.size())) {
        KEEL_FAIL(path_.string(), ": gzip stream is truncated (compressed data ends after ",
                  produced_, " decompressed bytes)");
      } else if (ret != Z_OK) {
        KEEL_FAIL(path_.string(), ": gzip data is corrupt (zlib: ",
                  stream_.msg != nullptr ? stream_.msg : "error " + std::to_string(ret), ") after ",
                  produced_, " decompressed bytes");
      }
    }
    return got;
  }

 private:
  std::filesystem::path path_;
  std::span<const std::byte> in_;
  size_t in_pos_ = 0;
  z_stream stream_{};
  uint64_t produced_ = 0;
  bool finished_ = false;
};

// "2147483648 images of 28x28 uint8" for error messages.
std::string describe_claim(const std::vector<int64_t>& dims, const IdxReadOptions& options,
                           IdxType type) {
  std::ostringstream out;
  out << dims[0] << " " << options.item_name;
  for (size_t i = 1; i < dims.size(); ++i) out << (i == 1 ? " of " : "x") << dims[i];
  out << " " << idx_type_name(type);
  return out.str();
}

void check_finite(const std::filesystem::path& path, const IdxArray& array) {
  const int64_t n = array.size();
  for (int64_t i = 0; i < n; ++i) {
    const double v = array.type == IdxType::kFloat32
                         ? load_native<float>(array.bytes.data() + i * 4)
                         : load_native<double>(array.bytes.data() + i * 8);
    KEEL_CHECK(std::isfinite(v), path.string(), ": data element ", i, " is ", v,
               "; expected finite ", idx_type_name(array.type), " values");
  }
}

// What the header says: the element type, the dims and how many data bytes they need.
struct IdxHeader {
  IdxType type;
  size_t size;              // header bytes: 4 + 4 * rank
  std::vector<int64_t> dims;
  uint64_t claimed;         // data bytes, saturating at kMaxBytes
};

// The element type named by the 4 magic bytes (00 00 <type> <rank>).
IdxType check_magic(const std::string& name, const std::vector<uint8_t>& header) {
  char magic_hex[16];
  std::snprintf(magic_hex, sizeof(magic_hex), "%02x %02x %02x %02x", header[0], header[1], header[2],
                header[3]);
  KEEL_CHECK(header[0] == 0 && header[1] == 0, name, ": wrong magic ", magic_hex,
             "; expected an IDX file starting 00 00 <type> <rank>");
  const uint8_t code = header[2];
  KEEL_CHECK(code == 0x08 || code == 0x09 || code == 0x0B || code == 0x0C || code == 0x0D ||
                 code == 0x0E,
             name, ": unknown type code 0x", std::hex, int{code}, std::dec, " in magic ", magic_hex,
             "; expected 0x08 (uint8), 0x09, 0x0b, 0x0c, 0x0d or 0x0e");
  return static_cast<IdxType>(code);
}

// Reads and checks the header from `gz` when the file is gzip'd (`gz` is then left at the first
// data byte), else straight from `file`. `kind` says which bytes the messages count.
IdxHeader read_header(const std::string& name, std::span<const std::byte> file, GzipStream* gz,
                      const char* kind) {
  size_t raw_pos = 0;
  std::vector<uint8_t> header;
  auto take = [&](size_t n) {  // appends up to n header bytes, returns how many were available
    if (gz) return static_cast<size_t>(gz->read(header, n));
    const size_t m = std::min(n, file.size() - raw_pos);
    const auto* src = reinterpret_cast<const uint8_t*>(file.data()) + raw_pos;
    header.insert(header.end(), src, src + m);
    raw_pos += m;
    return m;
  };

  KEEL_CHECK(take(4) == 4, name, ": truncated header: the file holds ", header.size(), " ", kind,
             "; expected at least 4 (magic 00 00 <type> <rank>)");
  const IdxType type = check_magic(name, header);
  const size_t rank = header[3];
  KEEL_CHECK(rank >= 1, name, ": rank (4th magic byte) is 0; expected at least 1 dimension");

  const size_t header_size = 4 + 4 * rank;
  const size_t got = take(4 * rank);
  KEEL_CHECK(got == 4 * rank, name, ": truncated header: rank ", rank, " needs ", header_size,
             " header bytes but the file holds ", 4 + got, " ", kind);

  IdxHeader result{type, header_size, {}, idx_type_size(type)};
  for (size_t i = 0; i < rank; ++i) {
    const uint8_t* p = header.data() + 4 + 4 * i;
    const uint32_t d = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    KEEL_CHECK(d != 0, name, ": dimension ", i, " is 0; expected every dimension >= 1");
    result.dims.push_back(d);
    result.claimed = result.claimed > kMaxBytes / d ? kMaxBytes : result.claimed * d;
  }
  return result;
}

// The header's claim about the data, and the error for data of another size.
struct DataClaim {
  std::string file;
  std::string text;  // describe_claim()
  const char* kind;  // "bytes" or "decompressed bytes"
  uint64_t bytes;    // saturating at kMaxBytes

  [[noreturn]] void fail(uint64_t held) const {
    KEEL_FAIL(file, ": header claims ", text, " but the file holds ", held, " ", kind,
              " of data (expected ", bytes == kMaxBytes ? "more than 2^62" : std::to_string(bytes),
              ")");
  }
};

// The data of an uncompressed file: everything after the header.
void read_raw_data(std::span<const std::byte> file, size_t header_size, const DataClaim& claim,
                   std::vector<uint8_t>& out) {
  const uint64_t held = file.size() - header_size;
  if (held != claim.bytes) claim.fail(held);
  out.reserve(static_cast<size_t>(held));
  advise_huge_pages(out.data(), out.capacity());
  out.assign(reinterpret_cast<const uint8_t*>(file.data()) + header_size,
             reinterpret_cast<const uint8_t*>(file.data()) + file.size());
}

// The data of a gzip'd file: the rest of `gz`, which must hold exactly the claimed bytes.
void read_gzip_data(GzipStream& gz, size_t file_size, size_t header_size, const DataClaim& claim,
                    std::vector<uint8_t>& out) {
  const uint64_t claimed = claim.bytes;
  // Never trust the claim for allocation: reserve at most what the input can expand to
  // (deflate's ratio is below 1032:1), then grow only as real data arrives. Asking for one
  // byte more than claimed detects trailing data.
  const uint64_t expansion_bound = static_cast<uint64_t>(file_size) * 1032;
  // claimed + 1: the trailing-data probe below must not outgrow the reservation (a regrowth
  // would copy the images into a fresh buffer without the huge-page advice, at twice the size).
  out.reserve(static_cast<size_t>(std::min({claimed + 1, expansion_bound, uint64_t{1} << 30})));
  advise_huge_pages(out.data(), out.capacity());
  const uint64_t held = gz.read(out, claimed == kMaxBytes ? kMaxBytes : claimed + 1);
  if (held > claimed) {
    // Count the rest in a small scratch buffer so the message reports the true length.
    std::vector<uint8_t>().swap(out);
    std::vector<uint8_t> scratch;
    while (gz.read(scratch, uint64_t{1} << 20) > 0) scratch.clear();
    claim.fail(gz.produced() - header_size);
  }
  if (held != claimed) claim.fail(held);
}

}  // namespace

Tensor IdxArray::to_tensor() const {
  Tensor t(dims);
  float* out = t.data();
  const int64_t n = size();
  const uint8_t* p = bytes.data();
  for (int64_t i = 0; i < n; ++i) {
    switch (type) {
      case IdxType::kUint8: out[i] = static_cast<float>(p[i]); break;
      case IdxType::kInt8: out[i] = static_cast<float>(static_cast<int8_t>(p[i])); break;
      case IdxType::kInt16: out[i] = static_cast<float>(load_native<int16_t>(p + 2 * i)); break;
      case IdxType::kInt32: out[i] = static_cast<float>(load_native<int32_t>(p + 4 * i)); break;
      case IdxType::kFloat32: out[i] = load_native<float>(p + 4 * i); break;
      case IdxType::kFloat64: out[i] = static_cast<float>(load_native<double>(p + 8 * i)); break;
    }
  }
  return t;
}

IdxArray read_idx(const std::filesystem::path& path, const IdxReadOptions& options) {
  const std::string name = path.string();
  const std::vector<std::byte> file = read_file_bytes(path);
  KEEL_CHECK(!file.empty(), name, ": file is empty; expected an IDX header (magic 00 00 <type> <rank>)");
  const bool gzip = is_gzip(file);
  const char* kind = gzip ? "decompressed bytes" : "bytes";

  std::optional<GzipStream> gz;
  if (gzip) gz.emplace(path, file);
  IdxHeader header = read_header(name, file, gz ? &*gz : nullptr, kind);

  IdxArray array;
  array.type = header.type;
  array.dims = std::move(header.dims);
  const DataClaim claim{name, describe_claim(array.dims, options, header.type), kind, header.claimed};
  if (!gz) {
    read_raw_data(file, header.size, claim, array.bytes);
  } else {
    read_gzip_data(*gz, file.size(), header.size, claim, array.bytes);
  }

  swap_to_from_big_endian(array.bytes.data(), static_cast<size_t>(array.size()),
                          idx_type_size(header.type));
  if ((header.type == IdxType::kFloat32 || header.type == IdxType::kFloat64) && !options.allow_nonfinite) {
    check_finite(path, array);
  }
  return array;
}

void write_idx(const std::filesystem::path& path, const IdxArray& array, bool gzip) {
  const std::string name = path.string();
  KEEL_CHECK(!array.dims.empty() && array.dims.size() <= 255, name, ": cannot write an IDX array of rank ",
             array.dims.size(), "; expected 1..255 dimensions");
  std::vector<uint8_t> out = {0, 0, static_cast<uint8_t>(array.type),
                              static_cast<uint8_t>(array.dims.size())};
  uint64_t count = 1;
  for (int64_t d : array.dims) {
    KEEL_CHECK(d >= 1 && d <= int64_t{std::numeric_limits<uint32_t>::max()}, name, ": dimension ", d,
               " cannot be stored in IDX; expected 1..4294967295");
    const auto u = static_cast<uint32_t>(d);
    out.insert(out.end(), {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
                           static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)});
    count *= static_cast<uint64_t>(d);
  }
  const size_t elem = idx_type_size(array.type);
  KEEL_CHECK(array.bytes.size() == count * elem, name, ": IDX array holds ", array.bytes.size(),
             " bytes; its dims and type need ", count * elem);
  const size_t header_size = out.size();
  out.insert(out.end(), array.bytes.begin(), array.bytes.end());
  swap_to_from_big_endian(out.data() + header_size, count, elem);

  if (gzip) {
    KEEL_CHECK(out.size() < (size_t{1} << 32), name, ": ", out.size(),
               " bytes is too large to gzip in one call; expected less than 4 GiB (write it raw)");
    z_stream zs{};
    KEEL_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
               name, ": cannot initialise zlib for gzip compression");
    std::vector<uint8_t> packed(deflateBound(&zs, out.size()));
    zs.next_in = out.data();
    zs.avail_in = static_cast<uInt>(out.size());
    zs.next_out = packed.data();
    zs.avail_out = static_cast<uInt>(packed.size());
    const int ret = deflate(&zs, Z_FINISH);
    packed.resize(zs.total_out);
    deflateEnd(&zs);
    KEEL_CHECK(ret == Z_STREAM_END, name, ": gzip compression failed (zlib error ", ret, ")");
    out = std::move(packed);
  }
  write_file_atomically(path, std::as_bytes(std::span<const uint8_t>(out)));
}

}  // namespace keel
