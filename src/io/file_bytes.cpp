#include "keel/io/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "keel/core/error.h"

namespace keel {

namespace {
// Closes the descriptor on every exit path (early throws included).
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) KEEL_FAIL(path.string(), ": file not found");
    KEEL_FAIL(path.string(), ": cannot open for reading: ", std::strerror(err));
  }
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) KEEL_FAIL(path.string(), ": cannot stat: ", std::strerror(errno));
  KEEL_CHECK(!S_ISDIR(st.st_mode), path.string(), ": is a directory, expected a file");

  // st_size is only a hint (pipes and /proc files report 0; files can grow), so fill the expected
  // size first and then keep reading until EOF.
  std::vector<std::byte> bytes(S_ISREG(st.st_mode) && st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0);
  size_t used = 0;
  std::byte chunk[65536];
  for (;;) {
    const bool into_buffer = used < bytes.size();
    std::byte* dst = into_buffer ? bytes.data() + used : chunk;
    const size_t room = into_buffer ? bytes.size() - used : sizeof(chunk);
    const ssize_t n = ::read(fd, dst, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      KEEL_FAIL(path.string(), ": read failed after ", used, " bytes: ", std::strerror(errno));
    }
    if (n == 0) break;
    if (!into_buffer) bytes.insert(bytes.end(), chunk, chunk + n);
    used += static_cast<size_t>(n);
  }
  bytes.resize(used);
  return bytes;
}

}  // namespace keel
