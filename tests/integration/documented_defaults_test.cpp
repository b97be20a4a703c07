// The documentation never lies about the defaults: every default that `ringline-server --help`
// prints is the one in README.md's flag table and in docs/operations.md's table of limits.
// Durations are compared in seconds, whatever unit each side writes them in.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/integration_support.hpp"

namespace ringline::integration {
namespace {

using test_support::server_path;
using test_support::source_dir;

/// The flags whose defaults are documented as numbers or words, and whether each is a duration.
const std::map<std::string, bool> k_flags = {
    {"--host", false},           {"--port", false},
    {"--max-line-bytes", false}, {"--max-connections", false},
    {"--idle-timeout", true},    {"--line-timeout", true},
    {"--shutdown-grace", true},  {"--sink", false},
};

/// Returns the default `help` (CLI11's format: "  --flag TYPE=DEFAULT   description", the
/// description on the next line when the first part is long) shows for `flag`.
std::optional<std::string> help_default(std::string_view help, const std::string& flag) {
  for (const auto& line : split_lines(help)) {
    const std::string_view text(line);
    // "  --idle-timeout DURATION=300 s" or, with a short option, "  -p,--port UINT=10008".
    if (!text.starts_with("  " + flag + " ") &&
        !(text.starts_with("  -") && text.find("," + flag + " ") == 4)) {
      continue;
    }
    const auto head = text.substr(0, text.find("  ", 2));  // before the description
    const auto equals = head.rfind('=');
    if (equals == std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(head.substr(equals + 1));
  }
  return std::nullopt;
}

/// Returns the cells of the Markdown table rows of `markdown` whose cell `key_column` holds
/// `key` (compared after removing backticks).
std::vector<std::vector<std::string>> table_rows(std::string_view markdown, std::string_view key,
                                                 std::size_t key_column) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& line : split_lines(markdown)) {
    if (!line.starts_with("|")) {
      continue;
    }
    std::vector<std::string> cells;
    std::string_view rest(line);
    rest.remove_prefix(1);
    for (auto bar = rest.find('|'); bar != std::string_view::npos; bar = rest.find('|')) {
      std::string cell;
      for (const char c : rest.substr(0, bar)) {
        if (c != '`') {
          cell += c;
        }
      }
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
      rest.remove_prefix(bar + 1);
    }
    if (cells.size() > key_column && cells[key_column] == key) {
      rows.push_back(std::move(cells));
    }
  }
  return rows;
}

/// Returns a duration written as seconds ("300"), or with a unit ("300s", "5m", "5min", "1h",
/// "500ms"), in milliseconds; nullopt if it is none of these.
std::optional<long long> to_milliseconds(std::string_view spaced) {
  std::string compact;  // "300 s" as "300s"
  for (const char c : spaced) {
    if (c != ' ') {
      compact += c;
    }
  }
  const std::string_view text(compact);
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  const long long number = std::stoll(std::string(text.substr(0, digits)));
  const auto unit = text.substr(digits);
  if (unit.empty() || unit == "s" || unit == "sec") {
    return number * 1000;
  }
  if (unit == "ms") {
    return number;
  }
  if (unit == "m" || unit == "min") {
    return number * 60'000;
  }
  if (unit == "h") {
    return number * 3'600'000;
  }
  return std::nullopt;
}

/// Returns true if the documented `value` says the same as the help's `shown`.
bool same_default(const std::string& shown, const std::string& value, bool duration) {
  if (!duration) {
    return shown == value;
  }
  const auto a = to_milliseconds(shown);
  return a.has_value() && a == to_milliseconds(value);
}

/// Returns the first word of a cell ("300 (0 = off)" gives "300").
std::string first_word(const std::string& cell) {
  return cell.substr(0, cell.find(' '));
}

TEST(documented_defaults_test, readme_flag_table_shows_the_defaults_the_server_prints) {
  const auto help = run_program({server_path(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  const auto readme = read_file(source_dir() + "/README.md");
  ASSERT_FALSE(readme.empty()) << "cannot read " << source_dir() << "/README.md";
  for (const auto& [flag, duration] : k_flags) {
    const auto shown = help_default(help.out, flag);
    ASSERT_TRUE(shown) << flag << ": no default in --help:\n" << help.out;
    const auto rows = table_rows(readme, flag, 0);
    ASSERT_EQ(rows.size(), 1U) << flag << ": not exactly one row in README.md's flag table";
    ASSERT_GE(rows[0].size(), 2U) << flag;
    EXPECT_TRUE(same_default(*shown, rows[0][1], duration))
        << flag << ": --help says " << *shown << ", README.md says " << rows[0][1];
  }
}

TEST(documented_defaults_test, operations_limits_table_shows_the_defaults_the_server_prints) {
  const auto help = run_program({server_path(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  const auto operations = read_file(source_dir() + "/docs/operations.md");
  ASSERT_FALSE(operations.empty()) << "cannot read docs/operations.md";
  // The limits table names a flag with its argument ("--max-connections N"); its default
  // column may add a note ("300 (0 = off)").
  const std::map<std::string, std::string> k_limit_flags = {
      {"--max-connections", "--max-connections N"}, {"--max-line-bytes", "--max-line-bytes N"},
      {"--idle-timeout", "--idle-timeout S"},       {"--line-timeout", "--line-timeout S"},
      {"--shutdown-grace", "--shutdown-grace S"},
  };
  for (const auto& [flag, cell] : k_limit_flags) {
    const auto shown = help_default(help.out, flag);
    ASSERT_TRUE(shown) << flag << ": no default in --help:\n" << help.out;
    const auto rows = table_rows(operations, cell, 1);
    ASSERT_FALSE(rows.empty()) << flag << ": no row in docs/operations.md's table of limits";
    for (const auto& row : rows) {
      ASSERT_GE(row.size(), 3U) << flag;
      EXPECT_TRUE(same_default(*shown, first_word(row[2]), k_flags.at(flag)))
          << flag << " (" << row[0] << "): --help says " << *shown << ", docs/operations.md says "
          << row[2];
    }
  }
}

TEST(documented_defaults_test,
     thread_count_default_is_the_same_rule_in_help_readme_and_operations) {
  // --threads defaults to this machine's CPU count: --help (and so the man page) names the
  // rule, never the number of the machine that ran it, and the documents name the same rule.
  const auto help = run_program({server_path(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_FALSE(help_default(help.out, "--threads").has_value())
      << "--help shows a number as --threads' default:\n"
      << help.out;
  const std::string rule = "CPUs in the affinity mask";
  EXPECT_NE(help.out.find("default: " + rule), std::string::npos) << help.out;
  const auto readme_rows = table_rows(read_file(source_dir() + "/README.md"), "--threads", 0);
  ASSERT_EQ(readme_rows.size(), 1U);
  ASSERT_GE(readme_rows[0].size(), 2U);
  EXPECT_EQ(readme_rows[0][1], rule);
  const auto limit_rows =
      table_rows(read_file(source_dir() + "/docs/operations.md"), "--threads N", 1);
  ASSERT_EQ(limit_rows.size(), 1U);
  ASSERT_GE(limit_rows[0].size(), 3U);
  EXPECT_TRUE(limit_rows[0][2].starts_with(rule)) << limit_rows[0][2];
}

}  // namespace
}  // namespace ringline::integration
