#include "service/proxy_intake.hpp"

#include <array>
#include <span>

#include "runtime/error.hpp"
#include "runtime/io.hpp"

namespace ringline::service {

namespace {

using clock = std::chrono::steady_clock;

// Bytes per receive. A v1 line fits in one with room for a first line behind it; a large v2
// header takes several. Kept small because it lives in this coroutine's frame only while the
// header is read; whatever arrives after the header is handed over in proxy_intake::rest.
constexpr std::size_t k_chunk_bytes = 512;

}  // namespace

runtime::task<proxy_intake> read_proxy_header(int fd, runtime::cancellation* cancel,
                                              std::chrono::nanoseconds limit) {
  proxy_intake outcome;
  protocol::proxy_header_parser parser;
  std::array<char, k_chunk_bytes> buffer{};
  // One deadline for the whole header, not one per receive: a peer trickling a byte at a
  // time must not stretch it.
  const auto deadline = clock::now() + limit;
  for (;;) {
    const auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) {
      outcome.refusal = "no complete PROXY header in time";
      co_return outcome;
    }
    auto got = co_await runtime::recv_some(fd, buffer, {.timeout = left, .cancel = cancel});
    if (!got) {
      if (runtime::is_timeout(got.error())) {
        outcome.refusal = "no complete PROXY header in time";
      } else {
        outcome.error = got.error();
      }
      co_return outcome;
    }
    if (*got == 0) {
      outcome.refusal = "connection closed before a complete PROXY header";
      co_return outcome;
    }
    const std::span<const char> chunk(buffer.data(), *got);
    const auto step = parser.feed(chunk);
    if (step.status == protocol::proxy_status::invalid) {
      outcome.refusal = step.reason;
      co_return outcome;
    }
    if (step.status == protocol::proxy_status::done) {
      outcome.header = parser.header();
      outcome.rest.assign(chunk.begin() + static_cast<std::ptrdiff_t>(step.used), chunk.end());
      co_return outcome;
    }
  }
}

}  // namespace ringline::service
