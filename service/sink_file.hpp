#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <sys/stat.h>

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
  /// True when the path still names sink_file_checks::current (a reopen without a rename):
  /// nothing was opened, locked or changed, and `fd` is empty.
  bool same_file = false;
};

/// What open_sink_file() checks beyond opening; the same at start and on every reopen.
struct sink_file_checks {
  /// The server's --max-line-bytes: bounds the torn line a repair may cut.
  std::size_t max_line_bytes = 65536;
  /// --durable: only a regular file can keep what fdatasync flushed.
  bool durable = false;
  /// --sink-follow-symlinks: without it a path that is a symbolic link is refused (O_NOFOLLOW).
  bool follow_symlinks = false;
  /// On a reopen, the file being written: when the path still names it (same device and
  /// inode), open_sink_file() returns it as same_file instead of locking it a second time.
  const struct stat* current = nullptr;
};

/// Opens `path` (created if missing, never truncated) for appending and makes it safe to
/// append to:
/// - refuses a path that is a symbolic link (unless follow_symlinks), a file owned by a user
///   other than the server's or root, a file in a directory any user may write without its
///   sticky bit, and with `durable` anything but a regular file (docs/operations.md, "The sink
///   file and its directory");
/// - takes an exclusive flock(), held while the descriptor is open, before reading anything,
///   so a second server can never touch a file another one is writing;
/// - cuts a torn last line (no final '\n'), but only one that ringline can have left: at most
///   `--max-line-bytes` + 1 bytes (one line and its '\r'; the limit the writer recorded in its
///   mark, where there is one), and, where the file system keeps extended attributes, only
///   when the file still carries the writer mark of a server that did not stop cleanly.
///   Anything else is somebody else's data: open refuses rather than destroy it;
/// - marks the file as being written (see sink_file_unmark()).
/// On failure returns the error and sets `why` to one line for the operator.
runtime::result<sink_file> open_sink_file(const std::string& path, const sink_file_checks& checks,
                                          std::string& why);

/// Removes the writer mark: called after the last line is written on a clean stop, so the next
/// start knows the file ends as a ringline server left it. Ignores failures (the mark then only
/// allows a repair that will find nothing to cut).
void sink_file_unmark(int fd) noexcept;

}  // namespace ringline::service
