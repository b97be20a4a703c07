#include "runtime/backend.hpp"

#include <atomic>
#include <cstdlib>

#include "runtime/event_loop.hpp"
#include "runtime/uring/factory.hpp"

namespace ringline::runtime {

std::string_view backend_name(backend_kind kind) noexcept {
  switch (kind) {
    case backend_kind::io_uring:
      return "io_uring";
    case backend_kind::epoll:
      return "epoll";
    case backend_kind::automatic:
      break;
  }
  return "auto";
}

std::optional<backend_kind> parse_backend(std::string_view text) noexcept {
  for (const auto kind : {backend_kind::automatic, backend_kind::io_uring, backend_kind::epoll}) {
    if (text == backend_name(kind)) {
      return kind;
    }
  }
  return std::nullopt;
}

std::string check_backend(std::string_view text) {
  if (parse_backend(text)) {
    return "";
  }
  // (Built with append: GCC 12 warns falsely about `"'" + text`, bug 105651.)
  std::string message(1, '\'');
  message.append(text).append("' is not a backend: auto, io_uring or epoll");
  return message;
}

backend_kind backend_from_environment() noexcept {
  // Read where loops are set up; nothing changes the environment meanwhile.
  const char* value = std::getenv("RINGLINE_BACKEND");  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) {
    return backend_kind::automatic;
  }
  return parse_backend(value).value_or(backend_kind::automatic);
}

namespace {
// automatic: none was set. Written once at start, before the threads that read it exist.
std::atomic<backend_kind> g_default{backend_kind::automatic};
bool g_default_set = false;
}  // namespace

backend_kind default_backend() noexcept {
  return g_default_set ? g_default.load(std::memory_order_relaxed) : backend_from_environment();
}

void set_default_backend(backend_kind kind) noexcept {
  g_default.store(kind, std::memory_order_relaxed);
  g_default_set = true;
}

backend_decision decide_backend(backend_kind wanted) {
  if (wanted != backend_kind::automatic) {
    return {wanted, ""};
  }
  // A small ring, set up and probed as a loop's would be, then closed again.
  event_loop_options probe_options;
  probe_options.queue_depth = 8;
  ring_features features;
  try {
    (void)detail::make_uring_backend(probe_options, features);
  } catch (const io_uring_unavailable& refused) {
    return {backend_kind::epoll, refused.what()};
  }
  return {backend_kind::io_uring, ""};
}

std::string backend_version_line() {
  try {
    const auto decision = decide_backend(backend_kind::automatic);
    std::string line("backend: ");
    line.append(backend_name(decision.kind));
    if (!decision.fallback_reason.empty()) {
      line.append(" (").append(decision.fallback_reason).append(")");
    }
    return line;
  } catch (const std::exception& error) {
    std::string line("backend: none (");
    line.append(error.what()).append(")");
    return line;
  }
}

}  // namespace ringline::runtime
