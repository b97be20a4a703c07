#pragma once

#include <cstdlib>
#include <string>

/// Paths of the programs under test, fixed at build time.
///
/// A test target that starts the real programs gets their paths as compile definitions, set
/// by the CMakeLists.txt that declares it, for example:
///
///     target_compile_definitions(service_fault PRIVATE
///       RINGLINE_SERVER_PATH="$<TARGET_FILE:ringline-server>"
///       RINGLINE_CLIENT_PATH="$<TARGET_FILE:ringline-client>"
///       RINGLINE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
///
/// and depends on those targets, so that they are built first. Without a definition the
/// environment variable of the same name is used, then the bare program name (found in PATH).
/// The definitions are per target, so these functions are inline and read them where used.
namespace ringline::test_support {

namespace detail {
inline std::string from_environment(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}
}  // namespace detail

/// Returns the path of the ringline-server binary under test.
inline std::string server_path() {
#ifdef RINGLINE_SERVER_PATH
  return RINGLINE_SERVER_PATH;
#else
  return detail::from_environment("RINGLINE_SERVER_PATH", "ringline-server");
#endif
}

/// Returns the path of the ringline-client binary under test.
inline std::string client_path() {
#ifdef RINGLINE_CLIENT_PATH
  return RINGLINE_CLIENT_PATH;
#else
  return detail::from_environment("RINGLINE_CLIENT_PATH", "ringline-client");
#endif
}

/// Returns the repository's root directory (for tests/interop/php/*.php and other fixtures).
inline std::string source_dir() {
#ifdef RINGLINE_SOURCE_DIR
  return RINGLINE_SOURCE_DIR;
#else
  return detail::from_environment("RINGLINE_SOURCE_DIR", ".");
#endif
}

}  // namespace ringline::test_support
