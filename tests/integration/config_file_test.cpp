// --config FILE on the real server: the file sets flags, the command line overrides it, an
// unknown key stops the server, and packaging/ringline.conf names every flag of --help at
// its default (so the shipped file cannot drift from the program).
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/notify_socket.hpp"
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

/// Returns the keys of the commented-out settings of a configuration file ("# port = 10008"
/// gives "port").
std::set<std::string> commented_keys(std::string_view config) {
  std::set<std::string> keys;
  for (const auto& line : split_lines(config)) {
    const std::string_view text(line);
    const auto equals = text.find(" = ");
    if (!text.starts_with("# ") || equals == std::string_view::npos) {
      continue;
    }
    const auto key = text.substr(2, equals - 2);
    if (key.find(' ') == std::string_view::npos) {
      keys.emplace(key);
    }
  }
  return keys;
}

/// Returns `config` with every commented-out setting ("# key = value") made live.
std::string uncomment_settings(std::string_view config) {
  std::string out;
  for (const auto& line : split_lines(config)) {
    const auto equals = line.find(" = ");
    const bool setting = line.starts_with("# ") && equals != std::string::npos &&
                         line.substr(2, equals - 2).find(' ') == std::string::npos;
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

TEST(config_file_test, file_sets_the_port_and_the_greeting) {
  const temp_dir dir;
  const auto config = dir.file("ringline.conf");
  // The port is picked free and may be taken before the server binds it: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    const auto port = test_support::pick_free_port();
    write_file(config, fmt::format("# a comment\nport = {}\ngreeting = \"from the file\"\n", port));
    try {
      auto server = test_support::server_process::start(
          server_path(), {"--config", config.string(), "--sink", "none"}, k_wait);
      EXPECT_EQ(server.port(), port);
      {
        auto client = server.connect();
        EXPECT_EQ(client.read_line(k_wait), "from the file\n");
      }
      EXPECT_EQ(server.stop(), 0);
      return;
    } catch (const std::runtime_error& error) {
      ASSERT_NE(std::string(error.what()).find("cannot listen"), std::string::npos) << error.what();
    }
  }
  FAIL() << "no free port could be had in 5 attempts";
}

TEST(config_file_test, command_line_overrides_the_file_in_any_order) {
  const temp_dir dir;
  const auto config = dir.file("ringline.conf");
  write_file(config, "greeting = from-file\nack = file-ack\nport = 0\n");
  // --greeting before --config: the command line still wins; --ack comes from the file.
  auto server = test_support::server_process::start(
      server_path(), {"--greeting", "from-cli", "--config", config.string(), "--sink", "none"},
      k_wait);
  EXPECT_EQ(conversation(server), "from-cli\nfile-ack\n");
  EXPECT_EQ(server.stop(), 0);
}

TEST(config_file_test, unknown_key_is_a_usage_error_that_names_it) {
  const temp_dir dir;
  const auto config = dir.file("ringline.conf");
  write_file(config, "port = 0\nprot = 10008\n");
  const auto run = run_program({server_path(), "--config", config.string()});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("unknown setting 'prot'"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(config.string()), std::string::npos) << run.err;
}

TEST(config_file_test, bad_value_and_missing_file_are_usage_errors) {
  const temp_dir dir;
  const auto config = dir.file("ringline.conf");
  write_file(config, "max-connections = 0\n");
  const auto bad = run_program({server_path(), "--config", config.string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("max-connections"), std::string::npos) << bad.err;
  const auto missing = dir.file("missing.conf").string();
  const auto absent = run_program({server_path(), "--config", missing});
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_NE(absent.err.find(missing), std::string::npos) << absent.err;
}

TEST(config_file_test, shipped_config_lists_every_flag_of_help) {
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

/// Returns the default `help` shows for `flag` ("--port" in "  -p,--port UINT=10008  ...")
/// and whether it is a duration; nullopt for a flag without one (--durable).
std::optional<std::pair<std::string, bool>> help_default(std::string_view help,
                                                         std::string_view flag) {
  for (const auto& line : split_lines(help)) {
    const std::string_view text(line);
    const auto at = text.find(std::string(flag) + " ");
    if (!text.starts_with("  -") || at == std::string_view::npos || at > 5) {
      continue;
    }
    const auto head = text.substr(0, text.find("  ", 2));  // before the description
    const auto equals = head.rfind('=');
    if (equals == std::string_view::npos) {
      return std::nullopt;
    }
    return std::pair{std::string(head.substr(equals + 1)),
                     head.find(" DURATION=") != std::string_view::npos};
  }
  return std::nullopt;
}

TEST(config_file_test, shipped_config_values_are_the_help_defaults) {
  const auto help = run_program({server_path(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  std::size_t compared = 0;
  for (const auto& line : split_lines(read_file(shipped_config_path()))) {
    const auto equals = line.find(" = ");
    if (!line.starts_with("# ") || equals == std::string::npos) {
      continue;
    }
    const auto key = line.substr(2, equals - 2);
    auto value = line.substr(equals + 3);
    if (key.find(' ') != std::string::npos || key == "threads") {
      continue;  // prose, or the one default that depends on the machine (its CPUs)
    }
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    const auto shown = help_default(help.out, "--" + key);
    if (!shown) {
      // Without a default in --help: a flag (off) or a text that is empty by default.
      EXPECT_TRUE(value == "false" || value.empty()) << key << " = " << value;
      continue;
    }
    auto expected = shown->first;
    if (shown->second) {  // "300 s" in the help, "300s" in the file
      std::erase(expected, ' ');
    }
    EXPECT_EQ(value, expected) << key;
    ++compared;
  }
  EXPECT_GE(compared, 12U);
}

TEST(config_file_test, shipped_config_holds_the_defaults_commented_out) {
  const temp_dir dir;
  const auto live = dir.file("live.conf");
  write_file(live, uncomment_settings(read_file(shipped_config_path())));
  // --port 0 and --threads 1 on the command line override the file's; everything else is
  // the file's (uncommented) or the built-in default, which must be the same.
  auto defaults =
      test_support::server_process::start(server_path(), {"--port", "0", "--threads", "1"}, k_wait);
  auto shipped = test_support::server_process::start(
      server_path(), {"--config", shipped_config_path(), "--port", "0", "--threads", "1"}, k_wait);
  auto uncommented = test_support::server_process::start(
      server_path(), {"--config", live.string(), "--port", "0", "--threads", "1"}, k_wait);
  EXPECT_EQ(announced_settings(shipped), announced_settings(defaults));
  EXPECT_EQ(announced_settings(uncommented), announced_settings(defaults));
  EXPECT_EQ(uncommented.host(), defaults.host());
  const auto expected = std::string(k_greeting) + std::string(k_ack);
  EXPECT_EQ(conversation(uncommented), expected);
  EXPECT_EQ(conversation(defaults), expected);
  // The text log with connect lines, as by default.
  EXPECT_TRUE(test_support::wait_for_stderr_prefix(uncommented.process(), "connect "));
  EXPECT_EQ(uncommented.stop(), 0);
  EXPECT_EQ(shipped.stop(), 0);
  EXPECT_EQ(defaults.stop(), 0);
}

}  // namespace
}  // namespace ringline::integration
