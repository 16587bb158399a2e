#include "keel/io/npy.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <string_view>

#include "keel/core/error.h"
#include "keel/io/atomic_file.h"
#include "keel/io/file_bytes.h"

namespace keel {

const char* npy_dtype_name(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::kFloat32: return "float32";
    case NpyDtype::kFloat64: return "float64";
    case NpyDtype::kUint8: return "uint8";
    case NpyDtype::kInt8: return "int8";
    case NpyDtype::kInt16: return "int16";
    case NpyDtype::kInt32: return "int32";
    case NpyDtype::kInt64: return "int64";
  }
  return "unknown";
}

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

Tensor NpyArray::to_tensor() const {
  if (dtype != NpyDtype::kUint8) return values;
  Tensor t(dims);
  for (size_t i = 0; i < u8.size(); ++i) t[static_cast<int64_t>(i)] = static_cast<float>(u8[i]);
  return t;
}

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr uint64_t kMaxBytes = uint64_t{1} << 62;
constexpr const char* kSupported = "'<f4', '<f8', '|u1', '|i1', '<i2', '<i4', '<i8' or their '>' variants";

// A Python literal as found in an .npy header: the dict's values are strings, booleans, ints and
// tuples of ints; lists appear only in structured dtypes (which are rejected, but must parse).
struct PyValue {
  enum Kind { kString, kBool, kInt, kTuple, kList, kNone } kind = kNone;
  std::string text;  // kString
  bool flag = false; // kBool
  int64_t number = 0;  // kInt
  std::vector<PyValue> items;  // kTuple, kList
};

// Recursive-descent parser for the header dict. Every error names the file and the header text.
class HeaderParser {
 public:
  HeaderParser(const std::string& file, std::string_view text) : file_(file), text_(text) {}

  std::map<std::string, PyValue> parse_dict() {
    expect('{');
    std::map<std::string, PyValue> dict;
    skip_space();
    while (peek() != '}') {
      PyValue key = parse_value();
      if (key.kind != PyValue::kString) fail("a dict key that is not a string");
      expect(':');
      PyValue value = parse_value();
      if (!dict.emplace(key.text, std::move(value)).second) fail("duplicate key '" + key.text + "'");
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail("a missing ',' or '}'");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("trailing text after the dict");
    return dict;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    KEEL_FAIL(file_, ": malformed header dict (", what, " at offset ", pos_, " of \"",
              escape(text_), "\"); expected {'descr': ..., 'fortran_order': ..., 'shape': (...)}");
  }
  static std::string escape(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 200)) {
      if (c == '\n') out += "\\n";
      else if (static_cast<unsigned char>(c) < 0x20) out += '?';
      else out += c;
    }
    if (s.size() > 200) out += "...";
    return out;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  PyValue parse_value() {
    skip_space();
    PyValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      ++pos_;
      const size_t end = text_.find(c, pos_);
      if (end == std::string_view::npos) fail("an unterminated string");
      v.kind = PyValue::kString;
      v.text = std::string(text_.substr(pos_, end - pos_));
      pos_ = end + 1;
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      v.kind = c == '(' ? PyValue::kTuple : PyValue::kList;
      ++pos_;
      skip_space();
      while (peek() != close) {
        if (++depth_ > 16) fail("nesting deeper than 16");
        v.items.push_back(parse_value());
        --depth_;
        skip_space();
        if (peek() == ',') ++pos_;
        else if (peek() != close) fail(std::string("a missing ',' or '") + close + "'");
        skip_space();
      }
      ++pos_;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = PyValue::kInt;
      const bool negative = c == '-';
      if (negative) ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("a '-' without digits");
      uint64_t n = 0;
      while (peek() >= '0' && peek() <= '9') {
        n = n * 10 + static_cast<uint64_t>(peek() - '0');
        if (n > (uint64_t{1} << 62)) fail("an integer larger than 2^62");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix, written by very old numpy
      v.number = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
    } else if (text_.substr(pos_, 4) == "True" || text_.substr(pos_, 5) == "False") {
      v.kind = PyValue::kBool;
      v.flag = c == 'T';
      pos_ += v.flag ? 4 : 5;
    } else if (text_.substr(pos_, 4) == "None") {
      pos_ += 4;
    } else {
      fail("an unexpected character");
    }
    return v;
  }

  std::string file_;
  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
};

struct DtypeInfo {
  NpyDtype dtype;
  size_t size;
  bool big_endian;
};

DtypeInfo parse_descr(const std::string& file, const std::string& descr) {
  auto unsupported = [&]() {
    KEEL_FAIL(file, ": unsupported dtype (descr) '", descr, "'; expected ", kSupported);
  };
  if (descr.size() < 3) unsupported();
  const char order = descr[0];
  const std::string code = descr.substr(1);
  DtypeInfo info{};
  if (code == "f4") info = {NpyDtype::kFloat32, 4, false};
  else if (code == "f8") info = {NpyDtype::kFloat64, 8, false};
  else if (code == "u1") info = {NpyDtype::kUint8, 1, false};
  else if (code == "i1") info = {NpyDtype::kInt8, 1, false};
  else if (code == "i2") info = {NpyDtype::kInt16, 2, false};
  else if (code == "i4") info = {NpyDtype::kInt32, 4, false};
  else if (code == "i8") info = {NpyDtype::kInt64, 8, false};
  else unsupported();
  if (order == '>') info.big_endian = true;
  else if (order == '=') info.big_endian = std::endian::native == std::endian::big;
  else if (order == '|') {
    if (info.size != 1) unsupported();  // '|' means "not applicable": only valid for bytes
  } else if (order != '<') unsupported();
  return info;
}

template <typename T>
T load(const uint8_t* p, bool swap) {
  uint8_t tmp[sizeof(T)];
  std::memcpy(tmp, p, sizeof(T));
  if (swap) std::reverse(tmp, tmp + sizeof(T));
  T v;
  std::memcpy(&v, tmp, sizeof(T));
  return v;
}

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

// Version 1.0 file bytes: magic, version, header padded with spaces so the data starts at a
// multiple of 64 bytes (what numpy writes), then `data`.
std::vector<std::byte> npy_file(const char* descr, const std::vector<int64_t>& dims,
                                std::span<const std::byte> data) {
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                       shape_text(dims) + ", }";
  const size_t unpadded = kMagic.size() + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::vector<std::byte> out;
  out.reserve(kMagic.size() + 4 + header.size() + data.size());
  auto append = [&](const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out.insert(out.end(), b, b + n);
  };
  append(kMagic.data(), kMagic.size());
  const uint8_t version[2] = {1, 0};
  append(version, 2);
  const uint8_t len[2] = {static_cast<uint8_t>(header.size() & 0xff), static_cast<uint8_t>(header.size() >> 8)};
  append(len, 2);
  append(header.data(), header.size());
  append(data.data(), data.size());
  return out;
}

// Where the header dict lies in the file: after the magic, the version and the length field.
struct HeaderSpan {
  size_t offset;  // 10 for format version 1.0, 12 for 2.0 and 3.0
  size_t length;
};

// Checks the magic and the version and finds the header dict.
HeaderSpan read_preamble(const std::string& name, const uint8_t* file, size_t file_size) {
  KEEL_CHECK(file_size > 0, name, ": file is empty; expected an .npy file starting with \\x93NUMPY");
  KEEL_CHECK(file_size >= 10, name, ": truncated header: the file holds ", file_size,
             " bytes; expected at least 10 (magic, version, header length)");
  KEEL_CHECK(std::memcmp(file, kMagic.data(), kMagic.size()) == 0, name,
             ": wrong magic; expected an .npy file starting with \\x93NUMPY");
  const int major = file[6];
  const int minor = file[7];
  KEEL_CHECK((major == 1 || major == 2 || major == 3) && minor == 0, name, ": format version ", major,
             ".", minor, " is not supported; expected 1.0, 2.0 or 3.0");
  size_t prefix = 10;
  size_t header_len = file[8] | (size_t{file[9]} << 8);
  if (major >= 2) {
    KEEL_CHECK(file_size >= 12, name, ": truncated header: the file holds ", file_size,
               " bytes; expected at least 12 for format version ", major, ".0");
    header_len |= (size_t{file[10]} << 16) | (size_t{file[11]} << 24);
    prefix = 12;
  }
  KEEL_CHECK(header_len <= file_size - prefix, name, ": truncated header: header length field is ",
             header_len, " but only ", file_size - prefix, " bytes follow it");
  return {prefix, header_len};
}

// What the header dict says about the data.
struct NpyHeader {
  DtypeInfo info;
  std::vector<int64_t> dims;
  uint64_t claimed;  // data bytes, saturating at kMaxBytes
};

// Checks the dict holds exactly 'descr', 'fortran_order' and 'shape', and reads them.
NpyHeader interpret_header(const std::string& name, const std::map<std::string, PyValue>& dict) {
  for (const auto& [key, value] : dict) {
    KEEL_CHECK(key == "descr" || key == "fortran_order" || key == "shape", name,
               ": header has unknown key '", key, "'; expected only 'descr', 'fortran_order', 'shape'");
  }
  KEEL_CHECK(dict.count("descr") && dict.count("fortran_order") && dict.count("shape"), name,
             ": header is missing ", !dict.count("descr") ? "'descr'" : !dict.count("shape") ? "'shape'" : "'fortran_order'",
             "; expected 'descr', 'fortran_order' and 'shape'");
  const PyValue& descr = dict.at("descr");
  KEEL_CHECK(descr.kind == PyValue::kString, name,
             ": descr is not a simple dtype string (structured dtypes are not supported); expected ",
             kSupported);
  const DtypeInfo info = parse_descr(name, descr.text);
  const PyValue& fortran = dict.at("fortran_order");
  KEEL_CHECK(fortran.kind == PyValue::kBool, name, ": fortran_order is not True/False");
  KEEL_CHECK(!fortran.flag, name,
             ": fortran_order is True; expected False (save with np.ascontiguousarray first)");
  const PyValue& shape = dict.at("shape");
  KEEL_CHECK(shape.kind == PyValue::kTuple, name, ": shape is not a tuple; expected e.g. (60000, 784)");

  NpyHeader header{info, {}, info.size};
  for (size_t i = 0; i < shape.items.size(); ++i) {
    const PyValue& d = shape.items[i];
    KEEL_CHECK(d.kind == PyValue::kInt && d.number >= 0, name, ": shape entry ", i,
               " is not a non-negative integer; expected e.g. (60000, 784)");
    header.dims.push_back(d.number);
    const auto u = static_cast<uint64_t>(d.number);
    header.claimed = u == 0 ? 0 : header.claimed > kMaxBytes / u ? kMaxBytes : header.claimed * u;
  }
  return header;
}

// Converts `n` elements of a non-uint8 dtype to float32, checking each is finite (unless
// allowed otherwise) and within float32 range.
void convert_to_float(const std::string& name, const uint8_t* data, int64_t n, const DtypeInfo& info,
                      bool allow_nonfinite, float* out) {
  const bool swap = info.big_endian != (std::endian::native == std::endian::big);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* p = data + i * static_cast<int64_t>(info.size);
    double v = 0;
    switch (info.dtype) {
      case NpyDtype::kFloat32: v = load<float>(p, swap); break;
      case NpyDtype::kFloat64: v = load<double>(p, swap); break;
      case NpyDtype::kInt8: v = static_cast<int8_t>(*p); break;
      case NpyDtype::kInt16: v = load<int16_t>(p, swap); break;
      case NpyDtype::kInt32: v = load<int32_t>(p, swap); break;
      case NpyDtype::kInt64: v = static_cast<double>(load<int64_t>(p, swap)); break;
      case NpyDtype::kUint8: break;
    }
    KEEL_CHECK(allow_nonfinite || std::isfinite(v), name, ": data element ", i, " is ", v,
               "; expected finite ", npy_dtype_name(info.dtype), " values");
    KEEL_CHECK(!std::isfinite(v) || std::fabs(v) <= std::numeric_limits<float>::max(), name,
               ": data element ", i, " is ", v, "; expected a value within float32 range");
    out[i] = static_cast<float>(v);
  }
}

}  // namespace

NpyArray read_npy(const std::filesystem::path& path, const NpyReadOptions& options) {
  const std::string name = path.string();
  const std::vector<std::byte> file_bytes = read_file_bytes(path);
  const auto* file = reinterpret_cast<const uint8_t*>(file_bytes.data());
  const size_t file_size = file_bytes.size();
  const HeaderSpan span = read_preamble(name, file, file_size);
  const std::string_view header_text(reinterpret_cast<const char*>(file) + span.offset, span.length);
  NpyHeader header = interpret_header(name, HeaderParser(name, header_text).parse_dict());

  NpyArray array;
  array.dtype = header.info.dtype;
  array.dims = std::move(header.dims);
  const size_t data_offset = span.offset + span.length;
  const uint64_t held = file_size - data_offset;
  KEEL_CHECK(held == header.claimed, name, ": header claims shape ", shape_text(array.dims), " of ",
             npy_dtype_name(header.info.dtype), " but the file holds ", held, " bytes of data (expected ",
             header.claimed == kMaxBytes ? "more than 2^62" : std::to_string(header.claimed), ")");

  const uint8_t* data = file + data_offset;
  const int64_t n = array.size();
  if (header.info.dtype == NpyDtype::kUint8) {
    array.u8.assign(data, data + n);
    return array;
  }
  array.values = Tensor(array.dims);
  convert_to_float(name, data, n, header.info, options.allow_nonfinite, array.values.data());
  return array;
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) {
  KEEL_CHECK(tensor.rank() > 0 || tensor.size() == 1, path.string(),
             ": cannot write an empty (default-constructed) tensor; expected a tensor with dims");
  static_assert(std::endian::native == std::endian::little, "write_npy writes '<f4' from host floats");
  write_file_atomically(path, npy_file("<f4", tensor.dims(), std::as_bytes(tensor.values())));
}

void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& dims,
               std::span<const uint8_t> values) {
  int64_t n = 1;
  for (int64_t d : dims) {
    KEEL_CHECK(d >= 0, path.string(), ": dimension ", d, " is negative; expected >= 0");
    n *= d;
  }
  KEEL_CHECK(n == static_cast<int64_t>(values.size()), path.string(), ": shape ", shape_text(dims),
             " needs ", n, " values, got ", values.size());
  write_file_atomically(path, npy_file("|u1", dims, std::as_bytes(values)));
}

}  // namespace keel
