// libFuzzer target: a whole server session, fed the input through a real AF_UNIX socket
// pair on the real event loop, must greet, ack every complete line in order, send
// "error: line too long" exactly when a line is too long, and end once the client is done.
//
// Input: byte 0: max_line_bytes (k_line_limits[byte % 8]), and with its top bit set the
// server runs with --proxy-protocol; byte 1: the session's receive buffer
// (k_recv_buffers[byte % 4]); byte 2: the client's send size (k_send_sizes[byte % 8]); the
// rest is what the client sends before it half-closes. With --proxy-protocol the session must
// greet and ack exactly when the stream begins with a valid PROXY header (judged by the
// protocol library's parser, fuzzed on its own), and otherwise close without a word. See
// docs/testing.md.
//
// One loop, one sink ("none") and one server per (limit, buffer) pair live across inputs,
// as they would in the real process; each input is one adopted connection.
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "protocol/messages.hpp"
#include "protocol/proxy_header.hpp"
#include "runtime/address.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "runtime/io.hpp"
#include "runtime/log.hpp"
#include "runtime/socket.hpp"
#include "runtime/task.hpp"
#include "runtime/unique_fd.hpp"
#include "service/config.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace ringline;
using fuzz::check;
using fuzz::escaped;
using fuzz::fail;

constexpr std::array<std::size_t, 8> k_line_limits{0, 1, 2, 3, 8, 31, 64, 65536};
constexpr std::array<std::size_t, 4> k_recv_buffers{1, 7, 64, 16 * 1024};
// 0: everything in one send.
constexpr std::array<std::size_t, 8> k_send_sizes{0, 1, 2, 3, 7, 64, 512, 4096};

// Nothing here waits on a clock: idle and line timeouts are off and the client half-closes.
// A client operation that takes this long means the session hangs.
constexpr auto k_patience = std::chrono::seconds(5);

// Returns the open descriptors with what each one is ("5 socket:[1234]"), in fd order.
std::map<int, std::string> open_descriptors() {
  std::map<int, std::string> out;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    std::error_code ignored;
    out[std::stoi(entry.path().filename().string())] =
        std::filesystem::read_symlink(entry.path(), ignored).string();
  }
  return out;
}

// Fails when `after` holds a descriptor that `before` did not: the input leaked it. The
// listing's own directory descriptor is in both, with the same number unless something leaked.
void check_no_new_descriptors(const std::map<int, std::string>& before,
                              const std::map<int, std::string>& after) {
  std::string leaked;
  for (const auto& [fd, what] : after) {
    if (!before.contains(fd)) {
      leaked += " " + std::to_string(fd) + " (" + what + ")";
    }
  }
  if (!leaked.empty()) {
    fail("descriptor leak: open after the input but not before:" + leaked);
  }
}

// Everything that lives across inputs, created on the first one.
struct fixture {
  runtime::event_loop loop;
  std::unique_ptr<service::sink> lines;
  std::map<std::tuple<std::size_t, std::size_t, bool>, std::unique_ptr<service::server>> servers;

  fixture() {
    // A refused PROXY header is logged as a warning: one line per such input would swamp
    // the fuzzer's own output and slow it down.
    runtime::configure_log({.min_level = runtime::log_level::error});
    auto opened = service::sink::open("none");
    check(static_cast<bool>(opened), "cannot open the 'none' sink");
    lines = std::move(*opened);
  }

  service::server& server_for(std::size_t max_line_bytes, std::size_t recv_buffer_bytes,
                              bool proxy_protocol) {
    auto& slot = servers[{max_line_bytes, recv_buffer_bytes, proxy_protocol}];
    if (!slot) {
      service::config settings;
      settings.greeting = protocol::default_greeting;
      settings.ack = protocol::default_ack;
      settings.max_line_bytes = max_line_bytes;
      settings.recv_buffer_bytes = recv_buffer_bytes;
      settings.idle_timeout = std::chrono::seconds(0);
      settings.line_timeout = std::chrono::seconds(0);
      settings.log_connections = false;
      settings.proxy_protocol = proxy_protocol;
      slot = std::make_unique<service::server>(settings, *lines);
    }
    return *slot;
  }
};

fixture& shared_fixture() {
  static fixture instance;
  return instance;
}

// The client's side of one session.
struct exchange {
  int fd = -1;
  std::string_view input;
  std::size_t send_size = 0;
  std::string received;
  std::error_code send_error;
  std::error_code recv_error;
  runtime::event sent;
};

runtime::task<void> send_input(exchange* state) {
  std::size_t offset = 0;
  while (offset < state->input.size()) {
    std::size_t length = state->input.size() - offset;
    if (state->send_size != 0 && state->send_size < length) {
      length = state->send_size;
    }
    auto done = co_await runtime::send_all(state->fd, {state->input.data() + offset, length},
                                           {.timeout = k_patience, .cancel = nullptr});
    if (!done) {
      state->send_error = done.error();
      break;
    }
    offset += length;
  }
  if (!state->send_error) {
    if (auto closed = runtime::shutdown_write(state->fd); !closed) {
      state->send_error = closed.error();
    }
  }
  state->sent.set();
}

runtime::task<void> receive_replies(exchange* state) {
  std::vector<char> buffer(4096);
  for (;;) {
    auto got =
        co_await runtime::recv_some(state->fd, buffer, {.timeout = k_patience, .cancel = nullptr});
    if (!got) {
      state->recv_error = got.error();
      co_return;
    }
    if (*got == 0) {
      co_return;
    }
    state->received.append(buffer.data(), *got);
  }
}

// Runs one session over a fresh socket pair; what the client received ends up in `state`.
runtime::task<void> converse(fixture* shared, service::server* target, exchange* state) {
  int ends[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    fail("socketpair failed: " + std::error_code(errno, std::system_category()).message());
  }
  runtime::unique_fd client_end(ends[1]);

  target->adopt(runtime::unique_fd(ends[0]), runtime::address{});
  state->fd = client_end.get();
  // The sender runs beside the receiver, as a real pipelining client must: acks flow back
  // while the input is still going out.
  shared->loop.spawn(send_input(state));
  co_await receive_replies(state);
  co_await state->sent;
  co_await target->wait_for_sessions();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::input_reader input(data, size);
  if (!input.has(3)) {
    return 0;
  }
  const std::uint8_t first = input.byte();
  const std::size_t max_line = k_line_limits[first % k_line_limits.size()];
  const bool proxy_protocol = (first & 0x80U) != 0;
  const std::size_t recv_buffer = k_recv_buffers[input.byte() % k_recv_buffers.size()];
  const std::size_t send_size = k_send_sizes[input.byte() % k_send_sizes.size()];
  const std::string_view stream = input.rest();

  fixture& shared = shared_fixture();
  service::server& target = shared.server_for(max_line, recv_buffer, proxy_protocol);
  const service::stats before = target.counters();

  const auto descriptors_before = open_descriptors();
  exchange state;
  state.input = stream;
  state.send_size = send_size;
  shared.loop.run(converse(&shared, &target, &state));

  // With --proxy-protocol: only what follows a valid header is line data; without one the
  // connection is closed unanswered.
  std::string_view line_data = stream;
  bool refused = false;
  if (proxy_protocol) {
    protocol::proxy_header_parser header;
    const auto step = header.feed(stream);
    refused = step.status != protocol::proxy_status::done;
    line_data = refused ? std::string_view{} : stream.substr(step.header_bytes);
  }
  const auto frames = fuzz::reference_frame(line_data, max_line);
  std::string expected;
  if (!refused) {
    expected = protocol::make_line(protocol::default_greeting);
    for (std::size_t i = 0; i < frames.lines.size(); ++i) {
      expected += protocol::make_line(protocol::default_ack);
    }
    if (frames.too_long) {
      expected += "error: line too long\n";  // docs/protocol.md: exact bytes
    }
  }
  const std::string context =
      std::string(proxy_protocol ? "--proxy-protocol, " : "") +
      (refused ? "no valid PROXY header, " : "") + "max_line_bytes " + std::to_string(max_line) +
      ", recv buffer " + std::to_string(recv_buffer) + ", send size " + std::to_string(send_size) +
      ", " + std::to_string(frames.lines.size()) + " complete lines" +
      (frames.too_long ? " then a too-long one" : "");
  // A refusal closes with the client's bytes unread, which may reach the client as a reset.
  const bool reset_allowed = refused && state.recv_error == std::errc::connection_reset;
  if (state.recv_error && !reset_allowed) {
    fail("receiving failed (" + state.recv_error.message() + "); " + context + "; got '" +
         escaped(state.received) + "'");
  }
  // The server reads until the client's FIN unless a line is too long or the PROXY header
  // is refused; then it lingers for a while only, so only then may sending fail.
  if (state.send_error && !frames.too_long && !refused) {
    fail("sending failed (" + state.send_error.message() + "); " + context);
  }
  if (state.received != expected) {
    fail("the client received '" + escaped(state.received) + "', expected '" + escaped(expected) +
         "'; " + context);
  }

  const service::stats& after = target.counters();
  check(after.active == 0, "a session is still active after wait_for_sessions");
  check(shared.loop.spawned_count() == 0, "a spawned task outlived its input");
  check_no_new_descriptors(descriptors_before, open_descriptors());
  check(after.lines - before.lines == frames.lines.size(), "stats: lines differ from acks sent");
  check(after.line_too_long - before.line_too_long == (frames.too_long ? 1U : 0U),
        "stats: line_too_long is off");
  check(after.resets == before.resets, "stats: the session ended with a connection error");
  check(after.sink_errors == before.sink_errors, "stats: the sink failed");
  check(after.proxy_errors - before.proxy_errors == (refused ? 1U : 0U),
        "stats: proxy_errors is off");
  if (!frames.too_long && !refused) {
    check(after.bytes - before.bytes == line_data.size(), "stats: bytes differ from bytes sent");
  }
  return 0;
}
