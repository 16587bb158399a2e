// Atomic writes (old contents survive every failure, no temp files left behind) and
// read_file_bytes errors.
#include "keel/io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "keel/core/error.h"
#include "temp_dir.h"
#include "keel/io/file_bytes.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

using keel::testing::TempDir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AtomicFileTest, CreatesAndReplaces) {
  TempDir tmp("atomic");
  const fs::path p = tmp.path / "model.json";
  write_file_atomically(p, std::string_view("first"));
  EXPECT_EQ(slurp(p), "first");
  write_file_atomically(p, std::string_view("second, longer"));
  EXPECT_EQ(slurp(p), "second, longer");
  const std::byte raw[] = {std::byte{0}, std::byte{0xff}, std::byte{7}};
  write_file_atomically(p, std::span<const std::byte>(raw));
  EXPECT_EQ(slurp(p), std::string("\0\xff\x07", 3));
  EXPECT_EQ(tmp.entries(), 1);  // no temp files left behind
}

TEST(AtomicFileTest, StreamingWriterHandlesSmallAndLargeWrites) {
  TempDir tmp("atomic");
  const fs::path p = tmp.path / "big.bin";
  std::string expected;
  write_file_atomically(p, [&](std::ostream& out) {
    for (int i = 0; i < 1000; ++i) {
      const std::string piece = std::to_string(i) + ",";
      out << piece;
      expected += piece;
    }
    const std::string block(200000, 'x');  // larger than the stream buffer: bypasses it
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
    expected += block;
    out << "end";
    expected += "end";
  });
  EXPECT_EQ(slurp(p), expected);
}

TEST(AtomicFileTest, ThrowingWriterKeepsOldFileAndRemovesTemp) {
  TempDir tmp("atomic");
  const fs::path p = tmp.path / "weights.bin";
  write_file_atomically(p, std::string_view("old contents"));
  try {
    write_file_atomically(p, [](std::ostream& out) {
      out << std::string(100000, 'n');  // some data reaches the temp file before the failure
      throw std::runtime_error("writer failed");
    });
    FAIL() << "expected the writer's exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "writer failed");  // propagated unchanged
  }
  EXPECT_EQ(slurp(p), "old contents");
  EXPECT_EQ(tmp.entries(), 1);
}

TEST(AtomicFileTest, KeepsPermissionsOfReplacedFile) {
  TempDir tmp("atomic");
  const fs::path p = tmp.path / "secret";
  write_file_atomically(p, std::string_view("a"));
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  write_file_atomically(p, std::string_view("b"));
  EXPECT_EQ(fs::status(p).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
}

TEST(AtomicFileTest, ErrorsNamePathAndReason) {
  TempDir tmp("atomic");
  try {
    write_file_atomically(tmp.path / "missing_dir" / "x.txt", std::string_view("x"));
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find((tmp.path / "missing_dir" / "x.txt").string()), std::string::npos) << m;
    EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  }
  try {
    write_file_atomically(tmp.path, std::string_view("x"));
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
  try {
    write_file_atomically(tmp.path / "bad_stream", [](std::ostream& out) { out.setstate(std::ios::badbit); });
    FAIL() << "expected keel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_stream: the writer left the output stream in a failed state"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp.path / "bad_stream"));
  EXPECT_EQ(tmp.entries(), 0);
}

// A write that fails midway (here EFBIG from a file-size limit, standing in for a full disk)
// must report the OS reason and leave the old file intact.
TEST(AtomicFileTest, FailedWriteReportsErrnoAndKeepsOldFile) {
  TempDir tmp("atomic");
  const fs::path p = tmp.path / "ckpt";
  write_file_atomically(p, std::string_view("old"));
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string bytes_message, stream_message;
  try {
    write_file_atomically(p, std::string_view(std::string(10000, 'z')));
  } catch (const Error& e) {
    bytes_message = e.what();
  }
  try {
    write_file_atomically(p, [](std::ostream& out) {
      for (int i = 0; i < 10000; ++i) out << 'q';
    });
  } catch (const Error& e) {
    stream_message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  for (const std::string& m : {bytes_message, stream_message}) {
    EXPECT_NE(m.find(p.string() + ": write of the temporary file failed: File too large"), std::string::npos)
        << m;
  }
  EXPECT_EQ(slurp(p), "old");
  EXPECT_EQ(tmp.entries(), 1);
}

TEST(AtomicFileTest, UnwritableDirectoryKeepsOldFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir tmp("atomic");
  const fs::path p = tmp.path / "f";
  write_file_atomically(p, std::string_view("old"));
  fs::permissions(tmp.path, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(write_file_atomically(p, std::string_view("new")), Error);
  EXPECT_EQ(slurp(p), "old");
}

TEST(FileBytesTest, ReadsWholeFile) {
  TempDir tmp("atomic");
  std::string text(300000, 'a');
  text[12345] = '\0';
  write_file_atomically(tmp.path / "f", std::string_view(text));
  const auto bytes = read_file_bytes(tmp.path / "f");
  ASSERT_EQ(bytes.size(), text.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), text);
  write_file_atomically(tmp.path / "empty", std::string_view(""));
  EXPECT_TRUE(read_file_bytes(tmp.path / "empty").empty());
}

TEST(FileBytesTest, ClearErrors) {
  TempDir tmp("atomic");
  auto message = [](const fs::path& p) {
    try {
      read_file_bytes(p);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_EQ(message(tmp.path / "nope"), (tmp.path / "nope").string() + ": file not found");
  EXPECT_EQ(message(tmp.path), tmp.path.string() + ": is a directory, expected a file");
  if (::geteuid() != 0) {
    write_file_atomically(tmp.path / "locked", std::string_view("x"));
    fs::permissions(tmp.path / "locked", fs::perms::none);
    EXPECT_NE(message(tmp.path / "locked").find("Permission denied"), std::string::npos);
  }
}

}  // namespace
}  // namespace keel
