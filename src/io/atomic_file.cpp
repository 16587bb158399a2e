#include "keel/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <streambuf>
#include <string>

#include "keel/core/error.h"

namespace keel {

namespace {

// write(2) until everything is written; returns 0 or the errno of the failure.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

// A buffered streambuf over a file descriptor that remembers the first errno, so the caller can
// report "No space left on device" instead of a bare failbit.
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof(buffer_)); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (flush_buffer() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    // Large writes bypass the buffer (the common case for tensors and weights).
    if (n >= static_cast<std::streamsize>(sizeof(buffer_))) {
      if (flush_buffer() != 0) return 0;
      if (int err = write_all(fd_, s, static_cast<size_t>(n)); err != 0) {
        if (error_ == 0) error_ = err;
        return 0;
      }
      return n;
    }
    return std::streambuf::xsputn(s, n);
  }
  int sync() override { return flush_buffer() == 0 ? 0 : -1; }

 private:
  int flush_buffer() {
    if (error_ != 0) return error_;
    const size_t pending = static_cast<size_t>(pptr() - pbase());
    if (int err = write_all(fd_, pbase(), pending); err != 0) error_ = err;
    setp(buffer_, buffer_ + sizeof(buffer_));
    return error_;
  }

  int fd_;
  int error_ = 0;
  char buffer_[1 << 16];
};

// Owns the temp file until commit(): the destructor closes and unlinks it unless it was renamed.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& target) : target_(target) {
    const std::filesystem::path dir = parent_dir(target);
    static std::atomic<unsigned> counter{0};
    // O_EXCL with a unique name instead of mkstemp: mkstemp creates mode 0600, while a new file
    // should get the usual 0666 & ~umask that the kernel applies here.
    for (int attempt = 0;; ++attempt) {
      // Built by appending: GCC 12 warns falsely (-Wrestrict) on "." + std::string.
      std::string leaf = ".";
      leaf += target.filename().string();
      leaf += ".tmp.";
      leaf += std::to_string(::getpid());
      leaf += '.';
      leaf += std::to_string(counter.fetch_add(1));
      temp_ = dir / leaf;
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) break;
      if (errno != EEXIST || attempt > 100) {
        KEEL_FAIL(target_.string(), ": cannot create temporary file ", temp_.string(), ": ",
                  std::strerror(errno));
      }
    }
    // Replacing a file keeps its permissions (a 0600 key file must not become world-readable).
    struct stat st {};
    if (::stat(target_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::fchmod(fd_, st.st_mode & 07777);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }

  int fd() const { return fd_; }

  void fail_if(int err, const char* what) const {
    if (err != 0) KEEL_FAIL(target_.string(), ": ", what, " failed: ", std::strerror(err));
  }

  void commit() {
    fail_if(::fsync(fd_) == 0 ? 0 : errno, "fsync of the temporary file");
    const int fd = fd_;
    fd_ = -1;
    fail_if(::close(fd) == 0 ? 0 : errno, "close of the temporary file");
    fail_if(::rename(temp_.c_str(), target_.c_str()) == 0 ? 0 : errno, "rename over the target");
    committed_ = true;
    // The rename is only durable once the directory entry is on disk. Failing here would be
    // misleading (the new file is already in place), so a directory that cannot be opened or
    // synced (some network file systems) is tolerated.
    const int dir_fd = ::open(parent_dir(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  static std::filesystem::path parent_dir(const std::filesystem::path& p) {
    return p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  }

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

void check_target(const std::filesystem::path& path) {
  KEEL_CHECK(!path.empty() && path.has_filename(), "'", path.string(),
             "': expected a file path to write, got an empty name or a directory path");
  std::error_code ec;
  KEEL_CHECK(!std::filesystem::is_directory(path, ec), path.string(),
             ": is a directory, expected a file path to write");
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  check_target(path);
  TempFile temp(path);
  temp.fail_if(write_all(temp.fd(), reinterpret_cast<const char*>(bytes.data()), bytes.size()),
               "write of the temporary file");
  temp.commit();
}

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  write_file_atomically(path, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& writer) {
  check_target(path);
  TempFile temp(path);
  FdStreamBuf buf(temp.fd());
  std::ostream out(&buf);
  writer(out);
  out.flush();
  temp.fail_if(buf.error(), "write of the temporary file");
  if (!out) KEEL_FAIL(path.string(), ": the writer left the output stream in a failed state");
  temp.commit();
}

}  // namespace keel
