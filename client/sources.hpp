#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "client/client.hpp"

namespace ringline::client {

/// Sends a fixed list of lines (the --message arguments).
class vector_source final : public line_source {
 public:
  explicit vector_source(std::vector<std::string> lines) : m_lines(std::move(lines)) {}
  runtime::task<runtime::result<std::size_t>> read_lines(std::string& out, std::size_t limit,
                                                         runtime::cancellation* cancel) override;

 private:
  std::vector<std::string> m_lines;
  std::size_t m_next = 0;
};

/// Sends the lines read from a file descriptor (standard input); a last line without '\n'
/// is sent with one. The descriptor is not owned.
class fd_source final : public line_source {
 public:
  explicit fd_source(int fd) : m_fd(fd) {}
  runtime::task<runtime::result<std::size_t>> read_lines(std::string& out, std::size_t limit,
                                                         runtime::cancellation* cancel) override;

 private:
  int m_fd;
  std::string m_partial;
  bool m_eof = false;
};

/// Returns how many lines the file `fd` holds from offset 0 (a last line without '\n'
/// counts), reading it with blocking pread calls: meant for the start of a program, before the
/// event loop runs. The file position is left alone. Errors: those of pread (EISDIR, EIO, ...).
runtime::result<std::uint64_t> count_lines(int fd);

}  // namespace ringline::client
