#include "service/config_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "runtime/duration.hpp"
#include "service/file_kind.hpp"

namespace ringline::service {

namespace {

// CLI11's reader strips one pair of quotes and trims spaces; a value it would change is
// quoted. A '#' ends a value wherever it stands, so one that holds it cannot be written at all.
std::string quoted_if_needed(const std::string& value) {
  const bool plain = !value.empty() && value.front() != ' ' && value.back() != ' ' &&
                     value.front() != '"' && value.front() != '\'' && value.front() != '[';
  return plain ? value : "\"" + value + "\"";
}

// A flag's value as a word: CLI11 keeps what was given ("true", "1", "-1" for false, ...).
std::string flag_value(const CLI::Option& option) {
  if (option.count() == 0) {
    return "false";
  }
  try {
    return option.as<bool>() ? "true" : "false";
  } catch (const CLI::Error&) {
    return "true";
  }
}

}  // namespace

std::string check_config_file(const std::string& path) {
  struct stat info {};
  // stat, not open: opening a FIFO would wait for a writer before anything could be said.
  if (::stat(path.c_str(), &info) != 0) {
    return fmt::format("cannot read {}: {}", path,
                       std::error_code(errno, std::generic_category()).message());
  }
  if (!S_ISREG(info.st_mode)) {
    return fmt::format("{} is {}, not a regular file", path, file_kind(info.st_mode));
  }
  if (static_cast<std::size_t>(info.st_size) > k_max_config_file_bytes) {
    return fmt::format("{} is {} bytes; a configuration file may have at most {} (1 MiB)", path,
                       info.st_size, k_max_config_file_bytes);
  }
  return {};
}

std::vector<CLI::ConfigItem> bounded_config::from_config(std::istream& input) const {
  const auto path = m_file_option->count() > 0 ? m_file_option->results().back() : std::string();
  // The file was checked before CLI11 opened it, but it may have grown since (or been
  // replaced): a byte beyond the bound is refused here too.
  std::string text(k_max_config_file_bytes + 1, '\0');
  input.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(input.gcount()));
  if (text.size() > k_max_config_file_bytes) {
    throw CLI::FileError(fmt::format("more than the {} bytes (1 MiB) a configuration file may have",
                                     k_max_config_file_bytes));
  }
  std::istringstream bounded(text);
  auto parsed = CLI::ConfigTOML::from_config(bounded);
  for (const auto& item : parsed) {
    if (!item.parents.empty() || item.name == "--") {
      continue;  // sections: not settings of this program (the parse refuses them)
    }
    const auto* option = m_app->get_option_no_throw("--" + item.name);
    if (option != nullptr && option->count() > 0 && option->get_configurable()) {
      m_overrides->push_back(
          fmt::format("--{} overrides {} from {}", option->get_lnames().front(), item.name, path));
    }
  }
  return parsed;
}

std::string effective_settings(const CLI::App& app,
                               const std::vector<std::pair<std::string, std::string>>& known) {
  std::string out;
  for (const auto* option : app.get_options()) {
    if (!option->get_configurable() || option->get_lnames().empty() ||
        option == app.get_help_ptr() || option == app.get_config_ptr() ||
        option == app.get_version_ptr()) {
      continue;
    }
    const auto& key = option->get_lnames().front();
    std::string value;
    if (const auto found = std::find_if(known.begin(), known.end(),
                                        [&key](const auto& each) { return each.first == key; });
        found != known.end()) {
      value = found->second;
    } else if (option->get_expected_min() == 0) {
      value = flag_value(*option);
    } else {
      value = option->count() > 0 ? option->results().back() : option->get_default_str();
      if (option->get_type_name() == "DURATION") {
        if (const auto parsed = runtime::parse_duration(value)) {
          value = runtime::format_duration(*parsed, "");
        }
      }
      value = quoted_if_needed(value);
    }
    out += fmt::format("{} = {}\n", key, value);
  }
  return out;
}

}  // namespace ringline::service
