#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

// What --config reads and what --check-config prints: the configuration file's side of
// ringline-server's command line (service/config.cpp holds the flags themselves).

namespace ringline::service {

/// The largest configuration file read: a real one is a few KiB; a larger one is a mistake.
inline constexpr std::size_t k_max_config_file_bytes = std::size_t{1} << 20;

/// Checks the path given to --config before it is opened: returns an empty string for a
/// regular file of at most k_max_config_file_bytes, otherwise why not ("... is a pipe (FIFO),
/// not a regular file"). Opening a FIFO would block the start, and /dev/zero would be read
/// without end, so only regular files are accepted.
std::string check_config_file(const std::string& path);

/// CLI11's TOML/INI reader, bounded and watching: it reads at most k_max_config_file_bytes
/// (more is a CLI::FileError), and notes each key of the file whose option the command line
/// has already set (CLI11 reads the file after the command line and skips those keys), as
/// `--port overrides port from FILE`, in `overrides`, which must outlive it.
class bounded_config final : public CLI::ConfigTOML {
 public:
  bounded_config(const CLI::App& app, const CLI::Option& file_option,
                 std::vector<std::string>& overrides) noexcept
      : m_app(&app), m_file_option(&file_option), m_overrides(&overrides) {}

  /// Parses `input` as CLI::ConfigTOML does, after reading it whole within the bound.
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App* m_app;
  const CLI::Option* m_file_option;
  std::vector<std::string>* m_overrides;
};

/// Returns every setting of `app` as a configuration file states it, one `key = value` line
/// each in the order of --help: the value given (on the command line or in the file) or the
/// default. Durations are written as the command line takes them (300s), text is quoted where
/// its spaces would otherwise be lost, a flag is true or false. Fed back through --config, it
/// gives the same settings. Options that are not settings (--help, --config) are left out.
/// `known` gives the value of keys whose default text is not a value (threads: the CPU count).
std::string effective_settings(const CLI::App& app,
                               const std::vector<std::pair<std::string, std::string>>& known);

}  // namespace ringline::service
