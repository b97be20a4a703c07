// --config FILE on the real server: the file sets flags, the command line overrides it, and an
// unknown key stops the server. The shipped file is shipped_config_test's.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/integration_support.hpp"
#include "tests/support/notify_socket.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::integration {
namespace {

using test_support::server_path;
using test_support::temp_dir;

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

}  // namespace
}  // namespace ringline::integration
