#pragma once

#include <sys/stat.h>

namespace ringline::service {

/// Returns what a file of `mode` is, in words for an error line ("a directory", "a pipe
/// (FIFO)", …), or "not a regular file" for anything else; never fails.
const char* file_kind(mode_t mode) noexcept;

}  // namespace ringline::service
