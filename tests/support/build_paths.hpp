#pragma once

#include <cstdlib>
#include <string>

/// Paths of the programs under test, fixed at build time.
///
/// A test target that starts the real programs calls `ringline_program_paths(<target>)` in its
/// CMakeLists.txt (tests/CMakeLists.txt): that generates a source file of the target defining
/// the paths below, defines RINGLINE_PROGRAM_PATHS for the target, and makes it depend on the
/// programs, so that they are built first. The paths are not compile definitions, so that the
/// target's files compile with the same command in every build tree (a compiler cache then
/// serves a second tree). Without it the environment variable of the same name is used
/// (RINGLINE_SERVER_PATH, ...), then the bare program name (found in PATH). The definition is
/// per target, so these functions are inline and read it where used.
namespace ringline::test_support {

#ifdef RINGLINE_PROGRAM_PATHS
namespace generated {
extern const char server_path[];
extern const char client_path[];
extern const char source_dir[];
}  // namespace generated
#endif

namespace detail {
inline std::string from_environment(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}
}  // namespace detail

/// Returns the path of the ringline-server binary under test.
inline std::string server_path() {
#ifdef RINGLINE_PROGRAM_PATHS
  return generated::server_path;
#else
  return detail::from_environment("RINGLINE_SERVER_PATH", "ringline-server");
#endif
}

/// Returns the path of the ringline-client binary under test.
inline std::string client_path() {
#ifdef RINGLINE_PROGRAM_PATHS
  return generated::client_path;
#else
  return detail::from_environment("RINGLINE_CLIENT_PATH", "ringline-client");
#endif
}

/// Returns the repository's root directory (for tests/interop/php/*.php and other fixtures).
inline std::string source_dir() {
#ifdef RINGLINE_PROGRAM_PATHS
  return generated::source_dir;
#else
  return detail::from_environment("RINGLINE_SOURCE_DIR", ".");
#endif
}

}  // namespace ringline::test_support
