#include "tests/support/server_process.hpp"

#include <signal.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "tests/support/deadline.hpp"

namespace ringline::test_support {

std::optional<listen_address> parse_listening_line(std::string_view line) {
  constexpr std::string_view marker = "listening on ";
  const auto at = line.find(marker);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  auto endpoint = line.substr(at + marker.size());
  endpoint = endpoint.substr(0, endpoint.find_first_of(" \t\r"));
  std::string_view host;
  std::string_view port;
  if (endpoint.starts_with('[')) {
    // IPv6 literals are bracketed because their colons would make the port ambiguous.
    const auto close = endpoint.find("]:");
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    host = endpoint.substr(1, close - 1);
    port = endpoint.substr(close + 2);
  } else {
    const auto colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return std::nullopt;  // an unbracketed IPv6 literal: the port cannot be told apart
    }
  }
  std::uint16_t number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (host.empty() || error != std::errc{} || end != port.data() + port.size() || number == 0) {
    return std::nullopt;
  }
  return listen_address{std::string(host), number};
}

server_process server_process::start(const std::string& binary, std::vector<std::string> args,
                                     std::chrono::milliseconds timeout) {
  child_options options;
  options.argv.reserve(args.size() + 1);
  options.argv.push_back(binary);
  options.argv.insert(options.argv.end(), std::make_move_iterator(args.begin()),
                      std::make_move_iterator(args.end()));
  // The default sink writes every line to stdout; a pipe nobody reads would stall the server.
  options.stdout_mode = stdio_mode::null;
  return start(std::move(options), timeout);
}

void apply_test_threads(std::vector<std::string>& argv) {
  const char* threads = std::getenv("RINGLINE_TEST_THREADS");
  if (threads == nullptr || *threads == '\0' || argv.empty() ||
      std::filesystem::path(argv.front()).filename() != "ringline-server") {
    return;
  }
  for (const auto& arg : argv) {
    if (arg == "--threads" || arg.starts_with("--threads=")) {
      return;  // the test chose its own
    }
  }
  argv.emplace_back("--threads");
  argv.emplace_back(threads);
}

server_process server_process::start(child_options options, std::chrono::milliseconds timeout) {
  options.stderr_mode = stdio_mode::pipe;
  apply_test_threads(options.argv);
  const std::string name = options.argv.empty() ? std::string() : options.argv.front();
  child_process process(std::move(options));
  std::vector<std::string> lines;
  const deadline until(timeout);
  for (;;) {
    auto line = process.read_stderr_line(until.left());
    if (!line) {
      break;
    }
    lines.push_back(*line);
    if (auto address = parse_listening_line(*line)) {
      return server_process(std::move(process), std::move(*address), std::move(lines));
    }
  }
  // Either stderr closed (the server exited or will) or the deadline passed. A short wait
  // tells the two apart in the message; the child_process destructor kills a silent server.
  const auto code = process.wait_for_exit(std::chrono::milliseconds(500));
  throw std::runtime_error(
      fmt::format("{} did not announce 'listening on HOST:PORT' ({}); stderr:\n{}", name,
                  code ? fmt::format("exit code {}", *code) : std::string("still running"),
                  process.stderr_so_far()));
}

socket_client server_process::connect() const {
  return socket_client::connect(m_address.host, m_address.port);
}

std::optional<int> server_process::stop(std::chrono::milliseconds timeout) {
  m_process.send_signal(SIGTERM);
  return m_process.wait_for_exit(timeout);
}

}  // namespace ringline::test_support
