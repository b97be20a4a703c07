#pragma once

#include <cstddef>
#include <string_view>

namespace ringline::service {

/// What a request to the metrics endpoint asked for, from its head (request line and
/// headers). Only what the endpoint answers is told apart; everything else is a 404 or 405.
enum class http_target { metrics, health, ready, not_found, bad_method, malformed };

/// The parse of a request head as far as it has arrived.
struct http_head {
  /// False until the blank line that ends the head has arrived.
  bool complete = false;
  http_target target = http_target::malformed;
};

/// Reads the head of an HTTP/1.x request from `received` (everything received so far).
/// GET and HEAD of `/metrics`, `/health` and `/ready` (a query string is ignored) are known;
/// any other path is not_found, any other method bad_method. A request line that is not
/// exactly `METHOD SP TARGET SP HTTP/1.0` (or `HTTP/1.1`), with a target that starts with
/// `/` and holds no space or control character, is malformed.
http_head parse_http_head(std::string_view received) noexcept;

}  // namespace ringline::service
