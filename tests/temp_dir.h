// TempDir: a scratch directory for one test process, removed (with everything in it) at scope end.
// Every test that writes files uses one, so a test run leaves nothing in the temp folder.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace keel::testing {

struct TempDir {
  std::filesystem::path path;

  // `tag` names the suite, so leftovers of a crashed run are recognisable in /tmp.
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("keel_" + tag + "_test_" + std::to_string(::getpid()));
    std::error_code ec;
    std::filesystem::remove_all(path, ec);  // a crashed run's leftovers under a reused pid
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    // Tests may leave a read-only directory behind; make it removable first.
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path operator/(const std::string& name) const { return path / name; }
  std::string string() const { return path.string(); }
  operator const std::filesystem::path&() const { return path; }  // NOLINT: used as a path

  // Writes `text` to path/name and returns that path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return path / name;
  }
  int entries() const {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path)) ++n;
    return n;
  }
};

}  // namespace keel::testing
