// Atomic file replacement: readers of `path` see either the complete old contents or the complete
// new contents, never a torn file, even if the process dies or the machine loses power mid-write.
// Recipe: write a temp file in the same directory (so rename stays within one file system), fsync
// it, rename it over the target, fsync the directory so the rename itself is durable. On any
// failure the old file is left untouched and the temp file is removed.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string_view>

namespace keel {

// Replaces `path` with `bytes`. Throws keel::Error naming the path and the OS reason (errno text).
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

// Streaming variant: `writer` writes the new contents to the stream (backed by the temp file).
// If the writer throws, the exception propagates unchanged after the temp file is removed and the
// old file is left intact. A failed write (disk full, ...) throws keel::Error naming the path.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& writer);

}  // namespace keel
