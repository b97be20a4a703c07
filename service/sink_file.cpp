#include "service/sink_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "runtime/error.hpp"
#include "service/file_kind.hpp"

namespace ringline::service {

namespace {

// Present while a server appends to the file, removed after a clean stop. Its value records the
// writer's pid and --max-line-bytes: the longest torn line that writer can have left.
constexpr const char* k_mark = "user.ringline.writer";

// Returns the pid holding a flock on the file (dev, ino), read from /proc/locks, if any.
std::optional<long> lock_holder(const struct stat& info) {
  std::ifstream locks("/proc/locks");
  // Lines look like "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF"; the device is
  // major:minor in hex, then the inode in decimal.
  const std::string wanted =
      fmt::format("{:02x}:{:02x}:{}", major(info.st_dev), minor(info.st_dev), info.st_ino);
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string id;
    std::string kind;
    std::string mode;
    std::string access;
    long pid = 0;
    std::string file;
    fields >> id >> kind;
    if (kind == "->") {
      fields >> kind;  // a waiter queued behind the holder
      continue;
    }
    fields >> mode >> access >> pid >> file;
    if (kind == "FLOCK" && file == wanted) {
      return pid;
    }
  }
  return std::nullopt;
}

struct mark_state {
  bool supported = true;
  bool present = false;
  std::size_t max_line_bytes = 0;  // as recorded by the writer that left the mark
};

mark_state read_mark(int fd) {
  std::array<char, 128> value{};
  const auto size = ::fgetxattr(fd, k_mark, value.data(), value.size() - 1);
  if (size < 0) {
    return {.supported = errno != ENOTSUP, .present = false, .max_line_bytes = 0};
  }
  mark_state state{.supported = true, .present = true, .max_line_bytes = 0};
  const std::string_view text(value.data(), static_cast<std::size_t>(size));
  const auto key = text.find("max_line_bytes=");
  if (key != std::string_view::npos) {
    const auto digits = text.substr(key + 15);
    std::from_chars(digits.data(), digits.data() + digits.size(), state.max_line_bytes);
  }
  return state;
}

bool write_mark(int fd, std::size_t max_line_bytes) {
  const auto value = fmt::format("pid={} max_line_bytes={}", ::getpid(), max_line_bytes);
  if (::fsetxattr(fd, k_mark, value.data(), value.size(), 0) != 0) {
    return false;
  }
  // The mark must be on disk before any line is: after a machine crash it is what allows the
  // repair of the torn line that crash may leave.
  (void)::fsync(fd);
  return true;
}

// Returns the length of the unterminated tail, reading at most `limit` + 1 bytes from the end
// (a tail longer than `limit` is reported as limit + 1).
runtime::result<std::uint64_t> unterminated_tail(int fd, std::uint64_t size, std::uint64_t limit) {
  const std::uint64_t span = std::min(size, limit + 1);
  std::vector<char> block(static_cast<std::size_t>(span));
  const auto got = ::pread(fd, block.data(), block.size(), static_cast<off_t>(size - span));
  if (got != static_cast<ssize_t>(block.size())) {
    return got < 0 ? runtime::last_errno() : runtime::errno_code(EIO);
  }
  const auto newline = std::find(block.rbegin(), block.rend(), '\n');
  return static_cast<std::uint64_t>(newline - block.rbegin());
}

// Anyone who may replace the file may redirect or read what is acknowledged: a directory that
// any user may write is safe only with its sticky bit (then only the file's owner may rename
// or remove it, and the owner check below refuses a file another user put there first).
std::string check_directory(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string directory =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0) {
    return {};  // the open reports a missing directory in its own words
  }
  if ((info.st_mode & S_IWOTH) != 0 && (info.st_mode & S_ISVTX) == 0) {
    return fmt::format(
        "sink '{}' is in {}, which any user may write and which has no sticky bit: anyone "
        "could replace the file (chmod o-w or +t the directory, or choose another one)",
        path, directory);
  }
  return {};
}

// The rule logrotate applies before it rotates as root: a file of another user is that user's
// to read and change, so acknowledged lines there are not the server's to promise.
std::string check_owner(const std::string& path, const struct stat& info) {
  const auto self = ::geteuid();
  if (info.st_uid == self || info.st_uid == 0) {
    return {};
  }
  return fmt::format(
      "sink '{}' belongs to uid {}, neither this server's user (uid {}) nor root: that user "
      "could read or change what is acknowledged there (chown it, or choose another file)",
      path, info.st_uid, self);
}

}  // namespace

runtime::result<sink_file> open_sink_file(const std::string& path, const sink_file_checks& checks,
                                          std::string& why) {
  if (auto problem = check_directory(path); !problem.empty()) {
    why = std::move(problem);
    return std::errc::permission_denied;
  }
  sink_file opened;
  const int no_follow = checks.follow_symlinks ? 0 : O_NOFOLLOW;
  opened.fd.reset(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | no_follow, 0644));
  if (!opened.fd) {
    const auto error = runtime::last_errno();
    if (error == std::errc::too_many_symbolic_link_levels && !checks.follow_symlinks) {
      why = fmt::format(
          "sink '{}' is a symbolic link; refusing to follow it (whoever can write its directory "
          "could point it at any file the server may write; --sink-follow-symlinks allows it)",
          path);
    } else {
      why = fmt::format("cannot open sink '{}': {}", path, error.message());
    }
    return error;
  }
  struct stat info {};
  if (::fstat(opened.fd.get(), &info) != 0) {
    const auto error = runtime::last_errno();
    why = fmt::format("cannot open sink '{}': {}", path, error.message());
    return error;
  }
  if (checks.current != nullptr && info.st_dev == checks.current->st_dev &&
      info.st_ino == checks.current->st_ino) {
    // Our own lock is on the file already; a second flock on this descriptor would report
    // this very process as the other server.
    return sink_file{.fd = {}, .repaired_bytes = 0, .marked = false, .same_file = true};
  }
  if (checks.durable && !S_ISREG(info.st_mode)) {
    why = fmt::format(
        "--durable: sink '{}' is {}, not a regular file, so fdatasync cannot make lines "
        "durable there",
        path, file_kind(info.st_mode));
    return std::errc::invalid_argument;
  }
  if (auto problem = check_owner(path, info); !problem.empty()) {
    why = std::move(problem);
    return std::errc::permission_denied;
  }
  // Two servers appending to one file or FIFO would interleave their lines; a device such as
  // /dev/null or /dev/full holds nothing to protect, and a lock on it would stop every other
  // program on the machine from using it as its sink.
  const bool shared_content = S_ISREG(info.st_mode) || S_ISFIFO(info.st_mode);
  if (shared_content && ::flock(opened.fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const auto error = runtime::last_errno();
    if (error == std::errc::operation_would_block) {
      const auto holder = lock_holder(info);
      why = fmt::format(
          "sink '{}' is in use by another process{}; two servers must never share a "
          "sink file",
          path, holder ? fmt::format(" (pid {})", *holder) : std::string());
    } else {
      why = fmt::format("cannot lock sink '{}': {}", path, error.message());
    }
    return error;
  }
  if (!S_ISREG(info.st_mode) || info.st_size == 0) {
    opened.marked = S_ISREG(info.st_mode) && write_mark(opened.fd.get(), checks.max_line_bytes);
    return opened;
  }

  const auto mark = read_mark(opened.fd.get());
  // The longest torn line a writer can leave: its --max-line-bytes, its '\r', no '\n'.
  const std::uint64_t limit =
      (mark.present && mark.max_line_bytes > 0 ? mark.max_line_bytes : checks.max_line_bytes) + 1;
  const auto size = static_cast<std::uint64_t>(info.st_size);
  auto tail = unterminated_tail(opened.fd.get(), size, limit);
  if (!tail) {
    why = fmt::format("cannot read sink '{}': {}", path, tail.error().message());
    return tail.error();
  }
  if (*tail > 0) {
    if (*tail > limit) {
      why = fmt::format(
          "sink '{}' ends with an unterminated line longer than {} bytes, which no ringline server "
          "can have left; refusing to cut it (end it with a newline to keep it, or choose another "
          "file)",
          path, limit);
      return std::errc::invalid_argument;
    }
    if (mark.supported && !mark.present) {
      why = fmt::format(
          "sink '{}' ends with an unterminated line of {} bytes that no ringline server left "
          "there; refusing to cut it (end it with a newline to keep it, or choose another file)",
          path, *tail);
      return std::errc::invalid_argument;
    }
    if (::ftruncate(opened.fd.get(), static_cast<off_t>(size - *tail)) != 0) {
      const auto error = runtime::last_errno();
      why = fmt::format("cannot repair sink '{}': {}", path, error.message());
      return error;
    }
    opened.repaired_bytes = *tail;
  }
  opened.marked = write_mark(opened.fd.get(), checks.max_line_bytes);
  return opened;
}

void sink_file_unmark(int fd) noexcept {
  (void)::fremovexattr(fd, k_mark);
}

}  // namespace ringline::service
