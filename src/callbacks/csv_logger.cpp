#include "keel/callbacks/csv_logger.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "keel/core/error.h"
#include "keel/io/atomic_file.h"
#include "keel/model/sequential.h"

namespace keel {

namespace {
// Shortest round-trip digits in scientific form d.ddde+XX, laid out as Python's repr: fixed
// notation for exponents in [-4, 16), scientific with at least two exponent digits else.
template <typename T>
std::string repr(T v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  const bool negative = s[0] == '-';
  if (negative) s.erase(0, 1);
  const size_t e = s.find('e');
  const int exp = std::stoi(s.substr(e + 1));
  std::string digits = s.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp + 1) {
      out = digits + std::string(static_cast<size_t>(exp + 1) - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e_buf[16];
    std::snprintf(e_buf, sizeof(e_buf), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += e_buf;
  }
  return negative ? "-" + out : out;
}
}  // namespace

std::string python_float_repr(double value) { return repr(value); }
std::string numpy_float32_repr(float value) { return repr(value); }

CSVLogger::CSVLogger(std::filesystem::path filename, std::string separator, bool append)
    : filename_(std::move(filename)), separator_(std::move(separator)), append_(append) {
  KEEL_CHECK(!separator_.empty(), "CSVLogger('", filename_.string(), "'): separator must not be empty");
}

CSVLogger::~CSVLogger() {
  if (file_) std::fclose(file_);
}

void CSVLogger::on_train_begin(const Logs&) {
  if (!is_chief()) return;  // only rank 0 writes
  if (file_) std::fclose(file_);
  file_ = nullptr;
  keys_.clear();
  write_header_ = true;
  if (append_ && std::filesystem::exists(filename_)) {
    std::ifstream in(filename_);
    std::string header, line;
    std::getline(in, header);
    if (!header.empty()) {
      write_header_ = false;
      // The existing column order wins (later rows must line up under it).
      std::stringstream hs(header);
      for (size_t pos = 0, next; pos <= header.size(); pos = next + separator_.size()) {
        next = header.find(separator_, pos);
        if (next == std::string::npos) next = header.size();
        keys_.push_back(header.substr(pos, next - pos));
      }
      if (!keys_.empty()) keys_.erase(keys_.begin());  // "epoch"
      if (params_.initial_epoch > 0) {
        std::string kept = header + "\n";
        bool dropped = false;
        while (std::getline(in, line)) {
          if (line.empty()) continue;
          const int64_t epoch = std::atoll(line.substr(0, line.find(separator_)).c_str());
          if (epoch < params_.initial_epoch) kept += line + "\n";
          else dropped = true;
        }
        if (dropped) write_file_atomically(filename_, kept);
      }
    }
  }
  if (!filename_.parent_path().empty()) std::filesystem::create_directories(filename_.parent_path());
  file_ = std::fopen(filename_.c_str(), append_ ? "a" : "w");
  KEEL_CHECK(file_, "CSVLogger: cannot open '", filename_.string(), "': ", std::strerror(errno));
}

void CSVLogger::on_epoch_end(int64_t epoch, const Logs& logs) {
  if (!is_chief()) return;  // only rank 0 writes
  if (!file_) return;
  if (keys_.empty()) {
    for (const auto& [name, v] : logs.items()) keys_.push_back(name);
    std::sort(keys_.begin(), keys_.end());
  }
  std::string text;
  if (write_header_) {
    text = "epoch";
    for (const auto& k : keys_) text += separator_ + k;
    text += "\n";
    write_header_ = false;
  }
  text += std::to_string(epoch);
  for (const auto& k : keys_) {
    const auto v = logs.get(k);
    text += separator_ + (v ? python_float_repr(*v) : std::string("NA"));
  }
  text += "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0;
  KEEL_CHECK(ok, "CSVLogger: cannot write '", filename_.string(), "': ", std::strerror(errno));
}

void CSVLogger::on_train_end(const Logs&) {
  if (!is_chief()) return;  // only rank 0 writes
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

}  // namespace keel
