#include "service/pidfile.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "runtime/error.hpp"

namespace ringline::service {

namespace {

// How often the path may change under us (another server publishing its file at the same
// moment) before we give up; each round either decides or sees the other server's file.
constexpr int k_attempts = 8;

bool same_file(const struct stat& a, const struct stat& b) noexcept {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// The first line of a locked pidfile, for the refusal: the pid of the server holding it.
std::string holder_of(int fd) {
  std::array<char, 32> text{};
  const auto got = ::pread(fd, text.data(), text.size() - 1, 0);
  if (got <= 0) {
    return "unknown";
  }
  std::string_view pid(text.data(), static_cast<std::size_t>(got));
  pid = pid.substr(0, pid.find('\n'));
  return pid.empty() ? std::string("unknown") : std::string(pid);
}

// Writes all of `text` at the start of `fd`.
bool write_whole(int fd, std::string_view text) noexcept {
  while (!text.empty()) {
    const auto wrote = ::write(fd, text.data(), text.size());
    if (wrote < 0 && errno == EINTR) {
      continue;
    }
    if (wrote <= 0) {
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(wrote));
  }
  return true;
}

// Puts the written and locked file `temp` at `path`, unless a running process holds the file
// there. Returns 0, or an errno value with `why` set.
int publish(const std::string& temp, const std::string& path, std::string& why) {
  for (int attempt = 0; attempt < k_attempts; ++attempt) {
    // O_NOFOLLOW: a symlink planted at the path is not followed to lock someone else's file
    // (the rename below replaces the link itself, never its target).
    const runtime::unique_fd existing(
        ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!existing) {
      const int error = errno;
      if (error != ENOENT) {
        why = fmt::format("--pidfile {}: {}", path, runtime::errno_code(error).message());
        return error;
      }
      // Nothing there: link() fails if another server's file appears first, rename() would not.
      if (::link(temp.c_str(), path.c_str()) == 0) {
        (void)::unlink(temp.c_str());
        return 0;
      }
      if (const int link_error = errno; link_error != EEXIST) {
        why = fmt::format("--pidfile {}: {}", path, runtime::errno_code(link_error).message());
        return link_error;
      }
      continue;
    }
    struct stat found {};
    if (::fstat(existing.get(), &found) != 0 || !S_ISREG(found.st_mode)) {
      why = fmt::format("--pidfile {}: not a regular file; refusing to replace it", path);
      return EEXIST;
    }
    if (::flock(existing.get(), LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      if (error == EWOULDBLOCK) {
        why = fmt::format(
            "--pidfile {}: held by a running process (pid {}); is another ringline-server "
            "using the same pidfile?",
            path, holder_of(existing.get()));
        return EBUSY;
      }
      why = fmt::format("--pidfile {}: cannot lock it: {}", path,
                        runtime::errno_code(error).message());
      return error;
    }
    // Unlocked: its server is gone (a crash or SIGKILL leaves the file behind). Holding its
    // lock keeps any other server from replacing it now; but if it is no longer at the path,
    // someone published meanwhile: look again.
    struct stat now {};
    if (::stat(path.c_str(), &now) != 0 || !same_file(now, found)) {
      continue;
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      why = fmt::format("--pidfile {}: {}", path, runtime::errno_code(error).message());
      return error;
    }
    return 0;
  }
  why = fmt::format("--pidfile {}: kept changing while it was being written", path);
  return EAGAIN;
}

}  // namespace

runtime::result<pidfile> pidfile::create(const std::string& path, std::string& why) {
  // The temporary file sits next to the final one: rename() and link() stay in one directory
  // and one file system.
  std::string temp = path + ".XXXXXX";
  std::vector<char> name(temp.begin(), temp.end());
  name.push_back('\0');
  runtime::unique_fd locked(::mkostemp(name.data(), O_CLOEXEC));
  if (!locked) {
    const int error = errno;
    why = fmt::format("--pidfile {}: cannot create a file next to it: {}", path,
                      runtime::errno_code(error).message());
    return runtime::errno_code(error);
  }
  temp.assign(name.data());
  const auto text = fmt::format("{}\n", ::getpid());
  // Readable by all, as pidfiles are (mkostemp creates it 0600); locked before it is visible,
  // so that no other server can ever lock it while this one runs.
  if (::fchmod(locked.get(), 0644) != 0 || !write_whole(locked.get(), text) ||
      ::flock(locked.get(), LOCK_EX | LOCK_NB) != 0) {
    const int error = errno != 0 ? errno : EIO;  // a write of 0 bytes sets none
    why = fmt::format("--pidfile {}: cannot write {}: {}", path, temp,
                      runtime::errno_code(error).message());
    (void)::unlink(temp.c_str());
    return runtime::errno_code(error);
  }
  if (const int error = publish(temp, path, why); error != 0) {
    (void)::unlink(temp.c_str());
    return runtime::errno_code(error);
  }
  return pidfile(path, std::move(locked));
}

pidfile::~pidfile() {
  if (!m_locked) {
    return;
  }
  // Only while it is ours: no other server can have replaced it while we hold the lock, but
  // an operator may have moved it away or put another file there.
  struct stat ours {};
  struct stat there {};
  if (::fstat(m_locked.get(), &ours) == 0 && ::lstat(m_path.c_str(), &there) == 0 &&
      same_file(ours, there)) {
    (void)::unlink(m_path.c_str());
  }
}

}  // namespace ringline::service
