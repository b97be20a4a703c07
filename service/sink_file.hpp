#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/result.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::service {

/// A sink file opened for appending, locked, and fit to append whole lines to.
struct sink_file {
  runtime::unique_fd fd;
  /// Bytes of a torn last line cut at open (0 when the file ended with a whole line).
  std::uint64_t repaired_bytes = 0;
  /// True when the file carries the "a writer is active" mark (an extended attribute); false
  /// where the file system has no user extended attributes.
  bool marked = false;
};

/// Opens `path` (created if missing, never truncated) for appending and makes it safe to
/// append to:
/// - takes an exclusive flock(), held while the descriptor is open, before reading anything,
///   so a second server can never touch a file another one is writing;
/// - cuts a torn last line (no final '\n'), but only one that ringline can have left: at most
///   `--max-line-bytes` + 1 bytes (one line and its '\r'; the limit the writer recorded in its
///   mark, where there is one), and, where the file system keeps extended attributes, only
///   when the file still carries the writer mark of a server that did not stop cleanly.
///   Anything else is somebody else's data: open refuses rather than destroy it;
/// - marks the file as being written (see sink_file_unmark()).
/// On failure returns the error and sets `why` to one line for the operator.
runtime::result<sink_file> open_sink_file(const std::string& path, std::size_t max_line_bytes,
                                          std::string& why);

/// Removes the writer mark: called after the last line is written on a clean stop, so the next
/// start knows the file ends as a ringline server left it. Ignores failures (the mark then only
/// allows a repair that will find nothing to cut).
void sink_file_unmark(int fd) noexcept;

}  // namespace ringline::service
