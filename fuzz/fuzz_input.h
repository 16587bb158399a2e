// Shared by the libFuzzer targets: keel's readers take paths, so each input is written to a
// per-process scratch file (in $TMPDIR, /tmp by default) and read back through the real reader.
// Every keel::Error is an accepted outcome; anything else (another exception, a crash, a leak,
// UB, a timeout, an allocation above -malloc_limit_mb) is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace keel::fuzz {

// This process's scratch directory, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path path;
    Scratch() {
      const char* tmp = std::getenv("TMPDIR");
      path = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
             ("keel-fuzz-" + std::to_string(::getpid()));
      std::filesystem::create_directories(path);
    }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Scratch scratch;
  return scratch.path;
}

inline std::filesystem::path write_scratch(const std::string& tag, const uint8_t* data, size_t size) {
  std::filesystem::path path = scratch_dir() / tag;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();  // the harness itself failed: not a keel finding, but do not hide it
  return path;
}

// KEEL_FUZZ_VERBOSE=1 prints each accepted error: run a target on one file to see why a seed is
// rejected (a seed that should be valid but is not gives the fuzzer a poor start).
inline void report(const std::exception& e) {
  static const bool verbose = std::getenv("KEEL_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "keel::Error: %s\n", e.what());
}

}  // namespace keel::fuzz
