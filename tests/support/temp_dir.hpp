#pragma once

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace ringline::test_support {

/// Owns a fresh directory under /tmp (mkdtemp, mode 0700) and removes it with everything in
/// it when destroyed. Move-only; a moved-from temp_dir owns nothing.
class temp_dir {
 public:
  /// Creates the directory; throws std::system_error if mkdtemp fails.
  temp_dir() {
    std::string pattern = "/tmp/ringline-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::system_category(), "mkdtemp");
    }
    m_path = pattern;
  }
  temp_dir(temp_dir&& other) noexcept : m_path(std::move(other.m_path)) { other.m_path.clear(); }
  temp_dir& operator=(temp_dir&& other) noexcept {
    if (this != &other) {
      remove();
      m_path = std::move(other.m_path);
      other.m_path.clear();
    }
    return *this;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// Removes the directory recursively; errors are ignored (destructors never throw).
  ~temp_dir() { remove(); }

  /// Returns the directory's path.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return m_path; }
  /// Returns the path of `name` inside the directory (the file is not created).
  [[nodiscard]] std::filesystem::path file(std::string_view name) const { return m_path / name; }

 private:
  void remove() noexcept {
    if (!m_path.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(m_path, ignored);
    }
  }

  std::filesystem::path m_path;
};

}  // namespace ringline::test_support
