// packaging/ringline.conf, which the Debian package ships as /etc/ringline/ringline.conf and
// ringline.service reads: it names every setting of --help, each commented out at the default
// --help shows (the thread count by its rule, which no number stands for), so that the file
// uncommented starts a server with exactly the default settings. Its only live lines are the
// packaged service's own choices: a durable sink in the service's state directory.
#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::server_path;
using test_support::source_dir;
using test_support::temp_dir;

std::string shipped_config_path() {
  return source_dir() + "/packaging/ringline.conf";
}

/// Returns the long flags `help` lists ("--port" for "  -p,--port UINT ..."), without --help,
/// --version, --config and --check-config, which are not settings.
std::set<std::string> help_flags(std::string_view help) {
  std::set<std::string> flags;
  for (const auto& line : split_lines(help)) {
    std::string_view text(line);
    const auto start = text.find_first_not_of(' ');
    if (start == std::string_view::npos || text[start] != '-') {
      continue;
    }
    text.remove_prefix(start);
    const auto flag_at = text.find("--");
    if (flag_at == std::string_view::npos) {
      continue;
    }
    auto flag = text.substr(flag_at);
    flag = flag.substr(0, flag.find_first_of(" ,="));
    if (flag != "--help" && flag != "--version" && flag != "--config" && flag != "--check-config") {
      flags.emplace(flag);
    }
  }
  return flags;
}

/// Returns the key of a commented-out setting: "port" for "# port = 10008", and for a setting
/// whose default is a rule rather than a value, "threads" for "# threads (default: RULE)".
std::optional<std::string> commented_key(std::string_view line) {
  if (!line.starts_with("# ")) {
    return std::nullopt;
  }
  line.remove_prefix(2);
  auto end = line.find(" = ");
  if (end == std::string_view::npos) {
    end = line.find(" (default: ");
  }
  if (end == std::string_view::npos || line.substr(0, end).find(' ') != std::string_view::npos) {
    return std::nullopt;  // prose
  }
  return std::string(line.substr(0, end));
}

/// Returns the keys of the commented-out settings of a configuration file.
std::set<std::string> commented_keys(std::string_view config) {
  std::set<std::string> keys;
  for (const auto& line : split_lines(config)) {
    if (auto key = commented_key(line); key) {
      keys.emplace(std::move(*key));
    }
  }
  return keys;
}

/// Returns the live (not commented-out) "key = value" lines of a configuration file.
std::vector<std::string> live_settings(std::string_view config) {
  std::vector<std::string> settings;
  for (const auto& line : split_lines(config)) {
    if (!line.empty() && !line.starts_with("#")) {
      settings.push_back(line);
    }
  }
  return settings;
}

/// Returns `config` without its live settings, and with every commented-out "# key = value"
/// made live.
std::string uncommented_defaults(std::string_view config) {
  std::string out;
  for (const auto& line : split_lines(config)) {
    if (!line.empty() && !line.starts_with("#")) {
      continue;
    }
    const bool setting = commented_key(line).has_value() && line.find(" = ") != std::string::npos;
    out += setting ? line.substr(2) : line;
    out += '\n';
  }
  return out;
}

/// Returns the settings part of the server's announcement: from " threads=" on.
std::string announced_settings(const test_support::server_process& server) {
  const auto& line = server.startup_lines().back();
  const auto at = line.find(" threads=");
  return at == std::string::npos ? line : line.substr(at);
}

/// Returns the greeting a client of `server` gets and the ack of one line.
std::string conversation(const test_support::server_process& server) {
  auto client = server.connect();
  std::string received = client.read_line(k_wait).value_or("(no greeting)");
  client.send_all("x\n");
  received += client.read_line(k_wait).value_or("(no ack)");
  return received;
}

/// Returns the line of `help` that names `flag` ("--port" in "  -p,--port UINT=10008 ...")
/// and the line after it (where a long first part pushes the description).
std::optional<std::string> help_entry(std::string_view help, std::string_view flag) {
  const auto lines = split_lines(help);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view text(lines[i]);
    const auto at = text.find(std::string(flag) + " ");
    if (text.starts_with("  -") && at != std::string_view::npos && at <= 5) {
      return lines[i] + (i + 1 < lines.size() ? "\n" + lines[i + 1] : "");
    }
  }
  return std::nullopt;
}

/// Returns the default `help` shows for `flag` and whether it is a duration; nullopt for a flag
/// without one (--durable, or --threads, whose default is a rule).
std::optional<std::pair<std::string, bool>> help_default(std::string_view help,
                                                         std::string_view flag) {
  const auto entry = help_entry(help, flag);
  if (!entry) {
    return std::nullopt;
  }
  const std::string_view first(std::string_view(*entry).substr(0, entry->find('\n')));
  const auto head = first.substr(0, first.find("  ", 2));  // before the description
  const auto equals = head.rfind('=');
  if (equals == std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{std::string(head.substr(equals + 1)),
                   head.find(" DURATION=") != std::string_view::npos};
}

/// Runs the rest of the scope on one CPU: processes started meanwhile inherit an affinity mask
/// of one CPU, so their default thread count is 1, which no number in a file can pass for on
/// every machine. The servers started meanwhile keep that default: RINGLINE_TEST_THREADS
/// (which would add --threads N, scripts/test) is unset. Restores both.
class one_cpu {
 public:
  one_cpu() {
    if (::sched_getaffinity(0, sizeof m_saved, &m_saved) != 0) {
      throw std::runtime_error("sched_getaffinity failed");
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    for (std::size_t cpu = 0; cpu < static_cast<std::size_t>(CPU_SETSIZE); ++cpu) {
      if (CPU_ISSET(cpu, &m_saved)) {
        CPU_SET(cpu, &one);
        break;
      }
    }
    if (::sched_setaffinity(0, sizeof one, &one) != 0) {
      throw std::runtime_error("sched_setaffinity failed");
    }
    if (const char* threads = std::getenv("RINGLINE_TEST_THREADS"); threads != nullptr) {
      m_test_threads = threads;
      ::unsetenv("RINGLINE_TEST_THREADS");
    }
  }
  ~one_cpu() {
    ::sched_setaffinity(0, sizeof m_saved, &m_saved);
    if (m_test_threads) {
      ::setenv("RINGLINE_TEST_THREADS", m_test_threads->c_str(), 1);
    }
  }
  one_cpu(const one_cpu&) = delete;
  one_cpu& operator=(const one_cpu&) = delete;

 private:
  cpu_set_t m_saved{};
  std::optional<std::string> m_test_threads;
};

TEST(shipped_config_test, names_every_flag_of_help) {
  const auto help = run_program({server_path(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  const auto flags = help_flags(help.out);
  ASSERT_GE(flags.size(), 10U) << help.out;
  const auto shipped = read_file(shipped_config_path());
  ASSERT_FALSE(shipped.empty()) << "cannot read " << shipped_config_path();
  std::set<std::string> keys;
  for (const auto& key : commented_keys(shipped)) {
    keys.emplace("--" + key);
  }
  EXPECT_EQ(keys, flags) << "packaging/ringline.conf and --help name different settings";
}

TEST(shipped_config_test, commented_values_are_the_defaults_help_shows) {
  const auto help = run_program({server_path(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  std::size_t compared = 0;
  for (const auto& line : split_lines(read_file(shipped_config_path()))) {
    const auto key = commented_key(line);
    if (!key) {
      continue;
    }
    const auto rule = line.find(" (default: ");
    if (rule != std::string::npos && line.find(" = ") == std::string::npos) {
      // A default that is a rule: the file names it as --help does.
      const auto entry = help_entry(help.out, "--" + *key);
      ASSERT_TRUE(entry) << *key;
      const auto named = line.substr(rule + 11, line.size() - rule - 12);
      EXPECT_NE(entry->find("default: " + named), std::string::npos) << line << "\n" << *entry;
      EXPECT_FALSE(help_default(help.out, "--" + *key).has_value())
          << "--help shows a number as --" << *key << "'s default: " << *entry;
      ++compared;
      continue;
    }
    auto value = line.substr(line.find(" = ") + 3);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    const auto shown = help_default(help.out, "--" + *key);
    if (!shown) {
      // Without a default in --help: a flag (off) or a text that is empty by default.
      EXPECT_TRUE(value == "false" || value.empty()) << *key << " = " << value;
      continue;
    }
    auto expected = shown->first;
    if (shown->second) {  // "300 s" in the help, "300s" in the file
      std::erase(expected, ' ');
    }
    EXPECT_EQ(value, expected) << *key;
    ++compared;
  }
  EXPECT_GE(compared, 14U);
}

TEST(shipped_config_test, uncommented_it_starts_a_server_with_exactly_the_defaults) {
  const temp_dir dir;
  const auto live = dir.file("live.conf");
  write_file(live, uncommented_defaults(read_file(shipped_config_path())));
  // --port 0 on the command line overrides the file's; everything else is the file's
  // (uncommented) or the built-in default, which must be the same, threads included.
  const one_cpu pinned;
  auto defaults = test_support::server_process::start(server_path(), {"--port", "0"}, k_wait);
  auto uncommented = test_support::server_process::start(
      server_path(), {"--config", live.string(), "--port", "0"}, k_wait);
  EXPECT_EQ(announced_settings(uncommented), announced_settings(defaults));
  EXPECT_NE(announced_settings(defaults).find(" threads=1 "), std::string::npos)
      << announced_settings(defaults);
  EXPECT_EQ(uncommented.host(), defaults.host());
  const auto expected = std::string(k_greeting) + std::string(k_ack);
  EXPECT_EQ(conversation(uncommented), expected);
  EXPECT_EQ(conversation(defaults), expected);
  // The text log with connect lines, as by default.
  EXPECT_TRUE(test_support::wait_for_stderr_prefix(uncommented.process(), "connect "));
  EXPECT_EQ(uncommented.stop(), 0);
  EXPECT_EQ(defaults.stop(), 0);
}

TEST(shipped_config_test, its_live_lines_are_the_packaged_services_durable_sink) {
  const auto shipped = read_file(shipped_config_path());
  EXPECT_EQ(live_settings(shipped),
            (std::vector<std::string>{"sink = /var/lib/ringline/lines.log", "durable = true"}));
  // The unit passes the file and nothing that would override it, and its state directory is
  // where the file's sink is.
  const auto unit = read_file(source_dir() + "/packaging/systemd/ringline.service.in");
  EXPECT_NE(unit.find("\nExecStart=@RINGLINE_SERVER@ --config @RINGLINE_CONFIG@\n"),
            std::string::npos)
      << unit;
  EXPECT_NE(unit.find("\nStateDirectory=ringline\n"), std::string::npos) << unit;

  // The file as shipped: the defaults but for a durable file sink (here in a test directory).
  const temp_dir dir;
  const auto sink = dir.file("lines.log").string();
  const one_cpu pinned;
  auto defaults = test_support::server_process::start(server_path(), {"--port", "0"}, k_wait);
  auto packaged = test_support::server_process::start(
      server_path(), {"--config", shipped_config_path(), "--port", "0", "--sink", sink}, k_wait);
  auto expected = announced_settings(defaults);
  const std::string default_sink = " sink=stdout durable=no ";
  ASSERT_NE(expected.find(default_sink), std::string::npos) << expected;
  expected.replace(expected.find(default_sink), default_sink.size(),
                   " sink=" + sink + " durable=yes ");
  EXPECT_EQ(announced_settings(packaged), expected);
  EXPECT_EQ(packaged.stop(), 0);
  EXPECT_EQ(defaults.stop(), 0);
}

}  // namespace
}  // namespace ringline::integration
