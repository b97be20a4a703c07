#pragma once

#include <string>

#include "runtime/result.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::service {

/// The file --pidfile names, held by this process while it runs: the pid that `kill -HUP
/// $(cat FILE)` signals, so that log rotation reaches this server and no other instance.
///
/// The file is written whole under a temporary name and then linked or renamed into place, so
/// a reader never sees it empty or half written. This process holds an exclusive flock on it
/// until it is destroyed: a second server given the same path finds it locked and refuses to
/// start, while a file left by a server that died (SIGKILL, a crash) holds no lock and is
/// replaced. The destructor removes the file if it is still this process's. Move-only.
class pidfile {
 public:
  /// Writes the calling process's pid and a newline to `path` and locks it. On failure
  /// returns the error, with a line for the operator in `why`: device_or_resource_busy when a
  /// running process holds the file (its pid in `why`), or what the file system said.
  static runtime::result<pidfile> create(const std::string& path, std::string& why);

  pidfile(pidfile&& other) noexcept = default;
  pidfile& operator=(pidfile&& other) noexcept = delete;
  pidfile(const pidfile&) = delete;
  pidfile& operator=(const pidfile&) = delete;
  /// Removes the file if the path still names the one this process wrote; never throws.
  ~pidfile();

  /// Returns the path given to create().
  [[nodiscard]] const std::string& path() const noexcept { return m_path; }

 private:
  pidfile(const std::string& path, runtime::unique_fd locked)
      : m_path(path), m_locked(std::move(locked)) {}

  std::string m_path;
  runtime::unique_fd m_locked;  // the file written, open and flocked while this lives
};

}  // namespace ringline::service
