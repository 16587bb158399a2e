// Whole-file reads with errors a user can act on (missing, a directory, unreadable), each naming
// the path and the OS reason. Dataset and model readers read through this so every format reports
// I/O failures the same way.
#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

namespace keel {

// The file's entire contents. Throws keel::Error naming the path when it does not exist, is a
// directory, or cannot be opened or read.
std::vector<std::byte> read_file_bytes(const std::filesystem::path& path);

}  // namespace keel
